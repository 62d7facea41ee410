import type { AdminDeps } from '../admin/AdminDeps.ts';
import type { AuditScope } from '../admin/AuditScope.ts';
import { parseUpdateMask } from '../admin/parseUpdateMask.ts';
import { requireId } from '../admin/requireUserId.ts';
import { isViolation, normalizeDisplayName } from '../auth/normalize.ts';
import type { Organization, OrganizationStatus } from '../domain/Organization.ts';
import { type FieldViolation, invalidArgument } from '../errors/AppError.ts';
import { checkStatusListRequest } from '../paging/checkListRequest.ts';
import { createdAtPage } from '../paging/createPageTokens.ts';
import {
  findOrganizationsPage,
  getOrganizationById,
  insertOrganization,
  type OrganizationChanges,
  updateOrganization as updateOrganizationRow,
} from '../storage/organizations.ts';
import { normalizeAttributes, normalizeSlug } from './checkOrgFields.ts';

const STATUSES: readonly OrganizationStatus[] = ['active', 'disabled', 'deleted'];

/** The update_mask paths UpdateOrganization accepts (proto field names of Organization). */
const UPDATABLE_PATHS = ['display_name', 'attributes', 'status'] as const;

/** The organisation id of a request, or INVALID_ARGUMENT naming `field`. */
export function requireOrganizationId(value: string | undefined, field = 'organization_id') {
  return requireId(value, field, 'organization');
}

export interface CreateOrganizationInput {
  slug: string;
  displayName: string;
  attributes: Record<string, string>;
}

/** Creates an active organisation without members; the unique index decides SLUG_TAKEN. */
export async function createOrganization(
  audit: AuditScope,
  input: CreateOrganizationInput,
): Promise<Organization> {
  const slug = normalizeSlug(input.slug);
  const displayName = normalizeDisplayName(input.displayName);
  const attributes = normalizeAttributes(input.attributes);
  const violations: FieldViolation[] = [slug, displayName].filter(isViolation);
  if (Array.isArray(attributes)) violations.push(...attributes);
  if (isViolation(slug) || isViolation(displayName) || Array.isArray(attributes)) {
    throw invalidArgument(violations);
  }
  return audit.transaction(async (tx) => {
    const created = await insertOrganization(tx, { slug, displayName, attributes });
    audit.note({ details: { organization_id: created.id, slug } });
    return created;
  });
}

/** One organisation that is not deleted; ORGANIZATION_NOT_FOUND otherwise. */
export async function getOrganization(
  deps: Pick<AdminDeps, 'pool'>,
  organizationId: string,
): Promise<Organization> {
  return getOrganizationById(deps.pool, requireOrganizationId(organizationId));
}

export interface ListOrganizationsInput {
  pageSize: number;
  pageToken: string;
  /** 'active' | 'disabled' | 'deleted', or null for every status except deleted. */
  status: string | null;
}

/**
 * One page of organisations in creation order (created_at, id), by keyset: the page token
 * carries the last row's position, signed together with the status filter.
 */
export async function listOrganizations(
  deps: Pick<AdminDeps, 'pool' | 'pageTokens'>,
  input: ListOrganizationsInput,
): Promise<{ organizations: Organization[]; nextPageToken: string }> {
  const { limit, status } = checkStatusListRequest(input, STATUSES);
  const filter = [status];
  const { page, nextPageToken } = await createdAtPage(
    deps.pageTokens,
    'organizations',
    filter,
    input.pageToken,
    limit,
    (after, rows) => findOrganizationsPage(deps.pool, status, after, rows),
  );
  return { organizations: page.map((e) => e.organization), nextPageToken };
}

export interface UpdateOrganizationInput {
  organization:
    | { id: string; displayName: string; attributes: Record<string, string>; status: string | null }
    | undefined;
  paths: readonly string[] | undefined;
}

/** Updates the fields named by the mask; a status change fires 'authz'. */
export async function updateOrganization(
  audit: AuditScope,
  input: UpdateOrganizationInput,
): Promise<Organization> {
  const violations: FieldViolation[] = [];
  const id = requireOrganizationId(input.organization?.id, 'organization.id');
  const paths = parseUpdateMask(UPDATABLE_PATHS, input.paths, violations);
  const org = input.organization;
  const changes: OrganizationChanges = {};
  if (org && paths.has('display_name')) {
    const name = normalizeDisplayName(org.displayName, 'organization.display_name');
    if (isViolation(name)) violations.push(name);
    else changes.displayName = name;
  }
  if (org && paths.has('attributes')) {
    const attributes = normalizeAttributes(org.attributes, 'organization.attributes');
    if (Array.isArray(attributes)) violations.push(...attributes);
    else changes.attributes = attributes;
  }
  if (org && paths.has('status')) {
    if (org.status === 'active' || org.status === 'disabled') changes.status = org.status;
    else {
      violations.push({
        field: 'organization.status',
        description: 'ACTIVE or DISABLED (DeleteOrganization deletes)',
        reason: 'INVALID_VALUE',
      });
    }
  }
  if (violations.length > 0) throw invalidArgument(violations);
  audit.note({ details: { organization_id: id, fields: [...paths].sort().join(',') } });
  return audit.transaction(async (tx) => {
    const before = await getOrganizationById(tx, id, { lock: 'update' });
    const updated = await updateOrganizationRow(tx, id, changes);
    if (before.status !== updated.status) {
      audit.note({ details: { previous_status: before.status, status: updated.status } });
    }
    return updated;
  });
}

/** Soft-deletes an organisation: its memberships grant nothing and its slug is free. */
export async function deleteOrganization(audit: AuditScope, organizationId: string): Promise<void> {
  const id = requireOrganizationId(organizationId);
  audit.note({ details: { organization_id: id } });
  await audit.transaction(async (tx) => {
    const before = await getOrganizationById(tx, id, { lock: 'update' });
    audit.note({ details: { slug: before.slug, previous_status: before.status } });
    await updateOrganizationRow(tx, id, { status: 'deleted' });
  });
}
