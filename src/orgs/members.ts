import type { AdminDeps } from '../admin/AdminDeps.ts';
import type { AuditScope } from '../admin/AuditScope.ts';
import { isViolation } from '../auth/normalize.ts';
import type { Member, MemberRef } from '../domain/Organization.ts';
import { AppError, type FieldViolation, invalidArgument } from '../errors/AppError.ts';
import { createdAtPage } from '../paging/createPageTokens.ts';
import { pageSize } from '../paging/pageSize.ts';
import type { Db } from '../storage/Db.ts';
import {
  deleteMember,
  findMembersPage,
  insertMember,
  setMemberRoles as setMemberRoleRows,
} from '../storage/memberships.ts';
import { getOrganizationById } from '../storage/organizations.ts';
import { findRoleScopes } from '../storage/roles.ts';
import { getServiceAccountById } from '../storage/serviceAccounts.ts';
import { getUserById } from '../storage/users.ts';
import { normalizeRoleIds, requireMembership } from './checkOrgFields.ts';
import { requireOrganizationId } from './organizations.ts';

/** A membership request: the organisation, exactly one of the two member ids, and roles. */
export interface MemberInput {
  organizationId: string;
  userId: string;
  serviceAccountId: string;
}

/** The audit subject of a member: a user, or a service account (kept in the details). */
const subjectOf = (ref: MemberRef) =>
  ref.kind === 'user' ? { subjectUserId: ref.id } : { serviceAccountId: ref.id };

/**
 * ROLE_NOT_FOUND for a role id that does not exist, VALIDATION_FAILED for one that is not of
 * scope 'organization'; the roles are locked against deletion until the transaction ends.
 */
async function requireOrganizationRoles(db: Db, roleIds: readonly string[]) {
  const scopes = await findRoleScopes(db, roleIds);
  const missing = roleIds.find((id) => !scopes.has(id));
  if (missing !== undefined) throw new AppError('ROLE_NOT_FOUND', `no such role: ${missing}`);
  const global = roleIds.flatMap((id, i) =>
    scopes.get(id) === 'organization'
      ? []
      : [
          {
            field: `role_ids[${i}]`,
            description: 'a member holds only roles of scope ORGANIZATION',
            reason: 'WRONG_SCOPE',
          },
        ],
  );
  if (global.length > 0) throw invalidArgument(global);
}

type MemberRolesInput = MemberInput & { roleIds: readonly string[] };

/**
 * What AddMember and SetMemberRoles share: parse the request (every violation at once), then in
 * one audited transaction check the organisation (kept from changing until the end) and that
 * every role is of organisation scope, and `write` the membership.
 */
async function writeMembership(
  audit: AuditScope,
  input: MemberRolesInput,
  write: (tx: Db, organizationId: string, ref: MemberRef, roleIds: string[]) => Promise<Member>,
): Promise<Member> {
  const violations: FieldViolation[] = [];
  const roleIds = normalizeRoleIds(input.roleIds, violations);
  const { organizationId, ref } = requireMembership(input, violations);
  audit.note({ ...subjectOf(ref), details: { organization_id: organizationId } });
  return audit.transaction(async (tx) => {
    await getOrganizationById(tx, organizationId, { lock: 'share' });
    await requireOrganizationRoles(tx, roleIds);
    const member = await write(tx, organizationId, ref, roleIds);
    audit.note({ details: { membership_id: member.id, role_ids: roleIds.join(',') } });
    return member;
  });
}

/**
 * Makes a user or service account (live, not deleted) a member of a live organisation with
 * organisation-scope roles; the partial unique indexes decide ALREADY_MEMBER.
 */
export function addMember(audit: AuditScope, input: MemberRolesInput): Promise<Member> {
  return writeMembership(audit, input, async (tx, organizationId, ref, roleIds) => {
    if (ref.kind === 'user') await getUserById(tx, ref.id);
    else await getServiceAccountById(tx, ref.id);
    return insertMember(tx, organizationId, ref, roleIds);
  });
}

/** Replaces a member's roles with organisation-scope roles. */
export function setMemberRoles(audit: AuditScope, input: MemberRolesInput): Promise<Member> {
  return writeMembership(audit, input, setMemberRoleRows);
}

/** Ends a membership; MEMBERSHIP_NOT_FOUND if the principal is not a member. */
export async function removeMember(audit: AuditScope, input: MemberInput): Promise<void> {
  const { organizationId, ref } = requireMembership(input);
  audit.note({ ...subjectOf(ref), details: { organization_id: organizationId } });
  await audit.transaction(async (tx) => {
    await getOrganizationById(tx, organizationId, { lock: 'share' });
    await deleteMember(tx, organizationId, ref);
  });
}

/**
 * One page of an organisation's members in (created_at, id) order, by keyset: the page token
 * carries the last row's position, signed together with the organisation id.
 */
export async function listMembers(
  deps: Pick<AdminDeps, 'pool' | 'pageTokens'>,
  input: { organizationId: string; pageSize: number; pageToken: string },
): Promise<{ members: Member[]; nextPageToken: string }> {
  const limit = pageSize(input.pageSize);
  const organizationId = requireOrganizationId(input.organizationId);
  if (isViolation(limit)) throw invalidArgument([limit]);
  const filter = [organizationId];
  const { page, nextPageToken } = await createdAtPage(
    deps.pageTokens,
    'members',
    filter,
    input.pageToken,
    limit,
    async (after, rows) => {
      await getOrganizationById(deps.pool, organizationId);
      return findMembersPage(deps.pool, organizationId, after, rows);
    },
  );
  return { members: page.map((e) => e.member), nextPageToken };
}
