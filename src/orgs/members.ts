import type { AdminDeps } from '../admin/AdminDeps.ts';
import type { AuditScope } from '../admin/AuditScope.ts';
import { isViolation } from '../auth/normalize.ts';
import type { CallAccess } from '../domain/CallAccess.ts';
import type { Member, MemberRef } from '../domain/Organization.ts';
import { AppError, type FieldViolation, invalidArgument } from '../errors/AppError.ts';
import { createdAtPage } from '../paging/createPageTokens.ts';
import { pageSize } from '../paging/pageSize.ts';
import type { Db } from '../storage/Db.ts';
import {
  deleteMember,
  findMembersPage,
  getMember,
  insertMember,
  setMemberRoles as setMemberRoleRows,
} from '../storage/memberships.ts';
import { getOrganizationById } from '../storage/organizations.ts';
import { findRoleScopes } from '../storage/roles.ts';
import { getServiceAccountById } from '../storage/serviceAccounts.ts';
import { getUserById } from '../storage/users.ts';
import { normalizeRoleIds, requireMembership } from './checkOrgFields.ts';
import { requireAnotherManager, requireGrantWithin, requireWithin } from './delegatedRules.ts';
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
export async function requireOrganizationRoles(db: Db, roleIds: readonly string[]) {
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
 * The organisation row of a membership change, kept from changing until the transaction ends.
 * A delegated caller's change takes it FOR UPDATE: the last-manager rule counts managers, and
 * concurrent changes of one organisation must count one after the other.
 */
const lockOrganization = (tx: Db, access: CallAccess, organizationId: string) =>
  getOrganizationById(tx, organizationId, {
    lock: access.kind === 'permission' ? 'update' : 'share',
  });

/**
 * What AddMember and SetMemberRoles share: parse the request (every violation at once), then in
 * one audited transaction lock the organisation, check that every role is of organisation
 * scope, and `write` the membership (which applies a delegated caller's rules).
 */
async function writeMembership(
  audit: AuditScope,
  access: CallAccess,
  input: MemberRolesInput,
  write: (tx: Db, organizationId: string, ref: MemberRef, roleIds: string[]) => Promise<Member>,
): Promise<Member> {
  const violations: FieldViolation[] = [];
  const roleIds = normalizeRoleIds(input.roleIds, violations);
  const { organizationId, ref } = requireMembership(input, violations);
  requireWithin(access, organizationId);
  audit.note({ ...subjectOf(ref), details: { organization_id: organizationId } });
  return audit.transaction(async (tx) => {
    await lockOrganization(tx, access, organizationId);
    await requireOrganizationRoles(tx, roleIds);
    const member = await write(tx, organizationId, ref, roleIds);
    audit.note({ details: { membership_id: member.id, role_ids: roleIds.join(',') } });
    return member;
  });
}

/**
 * Makes a user or service account (live, not deleted) a member of a live organisation with
 * organisation-scope roles; the partial unique indexes decide ALREADY_MEMBER. A delegated
 * caller grants only roles within its own permissions (GRANT_EXCEEDS_CALLER).
 */
export function addMember(
  audit: AuditScope,
  access: CallAccess,
  input: MemberRolesInput,
): Promise<Member> {
  return writeMembership(audit, access, input, async (tx, organizationId, ref, roleIds) => {
    await requireGrantWithin(tx, access, roleIds);
    if (ref.kind === 'user') await getUserById(tx, ref.id);
    else await getServiceAccountById(tx, ref.id);
    return insertMember(tx, organizationId, ref, roleIds);
  });
}

/**
 * Replaces a member's roles with organisation-scope roles. A delegated caller grants only roles
 * within its own permissions (the roles added; those kept need no check) and cannot take
 * org:manage from the last manager.
 */
export function setMemberRoles(
  audit: AuditScope,
  access: CallAccess,
  input: MemberRolesInput,
): Promise<Member> {
  return writeMembership(audit, access, input, async (tx, organizationId, ref, roleIds) => {
    if (access.kind === 'permission') {
      const member = await getMember(tx, organizationId, ref, { forUpdate: true });
      const added = roleIds.filter((id) => !member.roleIds.includes(id));
      await requireGrantWithin(tx, access, added);
      await requireAnotherManager(tx, access, member, roleIds);
    }
    return setMemberRoleRows(tx, organizationId, ref, roleIds);
  });
}

/**
 * Ends a membership; MEMBERSHIP_NOT_FOUND if the principal is not a member. A delegated caller
 * cannot remove the last manager (itself included).
 */
export async function removeMember(
  audit: AuditScope,
  access: CallAccess,
  input: MemberInput,
): Promise<void> {
  const { organizationId, ref } = requireMembership(input);
  requireWithin(access, organizationId);
  audit.note({ ...subjectOf(ref), details: { organization_id: organizationId } });
  await audit.transaction(async (tx) => {
    await lockOrganization(tx, access, organizationId);
    if (access.kind === 'permission') {
      const member = await getMember(tx, organizationId, ref, { forUpdate: true });
      audit.note({ details: { membership_id: member.id } });
      await requireAnotherManager(tx, access, member, null);
    }
    await deleteMember(tx, organizationId, ref);
  });
}

/**
 * One page of an organisation's members in (created_at, id) order, by keyset: the page token
 * carries the last row's position, signed together with the organisation id.
 */
export async function listMembers(
  deps: Pick<AdminDeps, 'pool' | 'pageTokens'>,
  access: CallAccess,
  input: { organizationId: string; pageSize: number; pageToken: string },
): Promise<{ members: Member[]; nextPageToken: string }> {
  const limit = pageSize(input.pageSize);
  const organizationId = requireOrganizationId(input.organizationId);
  if (isViolation(limit)) throw invalidArgument([limit]);
  requireWithin(access, organizationId);
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
