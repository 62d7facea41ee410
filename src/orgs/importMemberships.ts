import type { AuditScope } from '../admin/AuditScope.ts';
import { checkImportBatchSize } from '../admin/importBatch.ts';
import { checkId } from '../admin/requireUserId.ts';
import { isViolation, normalizeEmail } from '../auth/normalize.ts';
import type { MemberRef } from '../domain/Organization.ts';
import { AppError, type FieldViolation } from '../errors/AppError.ts';
import { type ImportRowFailure, rowValidationFailure } from '../errors/importErrorReason.ts';
import type { Db } from '../storage/Db.ts';
import { getMember, insertMemberUnlessPresent, setMemberRoles } from '../storage/memberships.ts';
import { findOrganizationBySlug, getOrganizationById } from '../storage/organizations.ts';
import { findOrganizationRoleIdsByName } from '../storage/roles.ts';
import { getServiceAccountById } from '../storage/serviceAccounts.ts';
import { findUserById, findUserByIdentifier } from '../storage/users.ts';
import { normalizeRoleName, normalizeSlug } from './checkOrgFields.ts';
import { countOutcomes, type ImportOutcome } from './importOrganizations.ts';

const MAX_MEMBER_ROLES = 32;

/** One row as the transport read it (ImportedMembership); null where the row set nothing. */
export interface ImportMembershipEntry {
  organization: { kind: 'id'; id: string } | { kind: 'slug'; slug: string } | null;
  member:
    | { kind: 'user_id'; id: string }
    | { kind: 'user_email'; email: string }
    | { kind: 'service_account_id'; id: string }
    | null;
  /** Names of organisation-scope roles. */
  roles: readonly string[];
}

/** The outcome of one row, in request order. */
export type ImportMembershipResult =
  | {
      index: number;
      outcome: ImportOutcome;
      membershipId: string;
      organizationId: string;
    }
  | { index: number; outcome: 'failed'; organizationId: string; failure: ImportRowFailure };

type OrganizationRef = { kind: 'id'; id: string } | { kind: 'slug'; slug: string };
type MemberLookup =
  | { kind: 'user_id'; id: string }
  | { kind: 'user_email'; normalized: string }
  | { kind: 'service_account_id'; id: string };

interface CheckedRow {
  organization: OrganizationRef;
  member: MemberLookup;
  /** Distinct role names, each with the index the row gave it first (for error_field). */
  roles: Map<string, number>;
}

function checkOrganization(
  ref: ImportMembershipEntry['organization'],
): OrganizationRef | FieldViolation {
  if (ref === null) {
    return {
      field: 'organization',
      description: 'organization_id or organization_slug is required',
      reason: 'REQUIRED',
    };
  }
  if (ref.kind === 'slug') {
    const slug = normalizeSlug(ref.slug, 'organization_slug');
    return isViolation(slug) ? slug : { kind: 'slug', slug };
  }
  const id = checkId(ref.id, 'organization_id', 'organization');
  return isViolation(id) ? id : { kind: 'id', id };
}

function checkMember(ref: ImportMembershipEntry['member']): MemberLookup | FieldViolation {
  if (ref === null) {
    return {
      field: 'member',
      description: 'user_id, user_email or service_account_id is required',
      reason: 'REQUIRED',
    };
  }
  if (ref.kind === 'user_email') {
    const email = normalizeEmail(ref.email, 'user_email');
    return isViolation(email) ? email : { kind: 'user_email', normalized: email.normalized };
  }
  const field = ref.kind;
  const id = checkId(ref.id, field, field === 'user_id' ? 'user' : 'service account');
  return isViolation(id) ? id : { kind: ref.kind, id };
}

function checkRoles(raw: readonly string[]): Map<string, number> | FieldViolation {
  const roles = new Map<string, number>();
  for (const [i, value] of raw.entries()) {
    const name = normalizeRoleName(value, 'organization', `roles[${i}]`);
    if (isViolation(name)) return name;
    if (!roles.has(name)) roles.set(name, i);
  }
  if (roles.size > MAX_MEMBER_ROLES) {
    return { field: 'roles', description: `at most ${MAX_MEMBER_ROLES} roles`, reason: 'TOO_MANY' };
  }
  return roles;
}

/** A row ready for lookups, or its first fault (every fault in the message). */
function checkEntry(e: ImportMembershipEntry): CheckedRow | ImportRowFailure {
  const organization = checkOrganization(e.organization);
  const member = checkMember(e.member);
  const roles = checkRoles(e.roles);
  if (isViolation(organization) || isViolation(member) || isViolation(roles)) {
    const violations = [organization, member, roles].filter(isViolation);
    return {
      ...rowValidationFailure(violations[0] ?? { field: 'member', description: 'invalid' }),
      message: violations.map((v) => `${v.field}: ${v.description}`).join('. '),
    };
  }
  return { organization, member, roles };
}

/** Whether `error` is the AppError of `reason` (a lookup's "not found", not a failure). */
const isReason = (error: unknown, reason: ImportRowFailure['reason']) =>
  error instanceof AppError && error.reason === reason;

const notFound = (reason: ImportRowFailure['reason'], field: string, message: string) =>
  ({ reason, field, message }) satisfies ImportRowFailure;

/**
 * The live organisation a row names, kept from changing or being deleted until the end of the
 * transaction (as AddMember does), or ORGANIZATION_NOT_FOUND.
 */
async function findOrganization(tx: Db, ref: OrganizationRef): Promise<string | ImportRowFailure> {
  if (ref.kind === 'slug') {
    const org = await findOrganizationBySlug(tx, ref.slug, { lock: 'share' });
    return (
      org?.id ??
      notFound('ORGANIZATION_NOT_FOUND', 'organization_slug', 'no organisation has this slug')
    );
  }
  try {
    return (await getOrganizationById(tx, ref.id, { lock: 'share' })).id;
  } catch (error) {
    if (!isReason(error, 'ORGANIZATION_NOT_FOUND')) throw error;
    return notFound('ORGANIZATION_NOT_FOUND', 'organization_id', 'no such organisation');
  }
}

/** The live user or service account a row names, or USER_NOT_FOUND / SERVICE_ACCOUNT_NOT_FOUND. */
async function findMember(tx: Db, ref: MemberLookup): Promise<MemberRef | ImportRowFailure> {
  switch (ref.kind) {
    case 'user_id': {
      const user = await findUserById(tx, ref.id);
      return user === null
        ? notFound('USER_NOT_FOUND', 'user_id', 'no such user')
        : { kind: 'user', id: user.user.id };
    }
    case 'user_email': {
      const user = await findUserByIdentifier(tx, ref.normalized);
      return user === null
        ? notFound('USER_NOT_FOUND', 'user_email', 'no user has this email address')
        : { kind: 'user', id: user.user.id };
    }
    case 'service_account_id':
      try {
        return { kind: 'service_account', id: (await getServiceAccountById(tx, ref.id)).id };
      } catch (error) {
        if (!isReason(error, 'SERVICE_ACCOUNT_NOT_FOUND')) throw error;
        return notFound(
          'SERVICE_ACCOUNT_NOT_FOUND',
          'service_account_id',
          'no such service account',
        );
      }
  }
}

/**
 * Creates the membership with `roleIds`, or gives an existing one exactly those roles. A
 * membership a concurrent import created meanwhile is updated like any existing one.
 */
async function writeMembership(
  tx: Db,
  organizationId: string,
  ref: MemberRef,
  roleIds: string[],
): Promise<{ outcome: ImportOutcome; membershipId: string }> {
  const created = await insertMemberUnlessPresent(tx, organizationId, ref, roleIds);
  if (created !== null) return { outcome: 'created', membershipId: created.id };
  const existing = await getMember(tx, organizationId, ref, { forUpdate: true });
  if ([...existing.roleIds].sort().join() === roleIds.join()) {
    return { outcome: 'unchanged', membershipId: existing.id };
  }
  await setMemberRoles(tx, organizationId, ref, roleIds);
  return { outcome: 'updated', membershipId: existing.id };
}

/**
 * Creates memberships or replaces their roles (ImportMemberships), up to 1000 rows. Every row
 * is checked before the transaction; in it, organisations, members and roles are looked up
 * once per batch, a row naming a member of an organisation an earlier row named fails, and all
 * rows are written with the call's audit event (counts only). Running the same import again
 * changes nothing and reports every row unchanged.
 */
export async function importMemberships(
  audit: AuditScope,
  entries: readonly ImportMembershipEntry[],
): Promise<ImportMembershipResult[]> {
  checkImportBatchSize(entries.length, 'memberships', 'memberships');
  const checked = entries.map(checkEntry);
  // Built inside the transaction: a retried transaction (deadlock) starts from scratch.
  return audit.transaction(async (tx) => {
    const names = new Set(checked.flatMap((row) => ('roles' in row ? [...row.roles.keys()] : [])));
    const roleIds = await findOrganizationRoleIdsByName(tx, [...names]);
    const organizations = new Map<string, Promise<string | ImportRowFailure>>();
    const members = new Map<string, Promise<MemberRef | ImportRowFailure>>();
    const once = <T>(cache: Map<string, Promise<T>>, key: string, find: () => Promise<T>) => {
      let found = cache.get(key);
      if (found === undefined) {
        found = find();
        cache.set(key, found);
      }
      return found;
    };
    const seen = new Map<string, number>();
    const results: ImportMembershipResult[] = [];
    const fail = (index: number, failure: ImportRowFailure, organizationId = '') =>
      results.push({ index, outcome: 'failed', organizationId, failure });
    for (const [index, row] of checked.entries()) {
      if (!('roles' in row)) {
        fail(index, row);
        continue;
      }
      const orgRef = row.organization;
      const organizationId = await once(
        organizations,
        orgRef.kind === 'id' ? `id:${orgRef.id}` : `slug:${orgRef.slug}`,
        () => findOrganization(tx, orgRef),
      );
      if (typeof organizationId !== 'string') {
        fail(index, organizationId);
        continue;
      }
      const memberRef = row.member;
      const member = await once(
        members,
        `${memberRef.kind}:${memberRef.kind === 'user_email' ? memberRef.normalized : memberRef.id}`,
        () => findMember(tx, memberRef),
      );
      if ('reason' in member) {
        fail(index, member, organizationId);
        continue;
      }
      const missing = [...row.roles].find(([name]) => !roleIds.has(name));
      if (missing !== undefined) {
        fail(
          index,
          {
            reason: 'ROLE_NOT_FOUND',
            field: `roles[${missing[1]}]`,
            message: `no organisation role is named ${JSON.stringify(missing[0])}`,
          },
          organizationId,
        );
        continue;
      }
      const key = `${organizationId}/${member.kind}:${member.id}`;
      const earlier = seen.get(key);
      if (earlier !== undefined) {
        fail(
          index,
          rowValidationFailure({
            field: 'member',
            description: `row ${earlier} names the same member of this organisation`,
          }),
          organizationId,
        );
        continue;
      }
      seen.set(key, index);
      const ids = [...new Set([...row.roles.keys()].map((n) => roleIds.get(n) ?? ''))].sort();
      const written = await writeMembership(tx, organizationId, member, ids);
      results.push({ index, organizationId, ...written });
    }
    audit.note({ details: { requested: entries.length, ...countOutcomes(results) } });
    return results;
  });
}
