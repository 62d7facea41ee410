import { UniqueIntegrityConstraintViolationError } from 'slonik';
import { z } from 'zod';
import type { Member, MemberRef } from '../domain/Organization.ts';
import { AppError } from '../errors/AppError.ts';
import type { Db } from './Db.ts';
import { afterCursor, type TimeIdCursor } from './organizations.ts';
import { sql } from './sql.ts';

/** The memberships table with each membership's roles (membership_roles) folded in, sorted. */
const memberRow = z.object({
  id: z.string(),
  organization_id: z.string(),
  user_id: z.string().nullable(),
  service_account_id: z.string().nullable(),
  role_ids: z.array(z.string()),
  created_at: z.date(),
});
type MemberRow = z.infer<typeof memberRow>;

const toMember = (r: MemberRow): Member => ({
  id: r.id,
  organizationId: r.organization_id,
  member:
    r.user_id !== null
      ? { kind: 'user', id: r.user_id }
      : { kind: 'service_account', id: r.service_account_id ?? '' },
  roleIds: r.role_ids,
  createdAt: r.created_at,
});

const SELECT_MEMBER = sql.fragment`
  SELECT m.id, m.organization_id, m.user_id, m.service_account_id, m.created_at,
         coalesce((SELECT array_agg(mr.role_id::text ORDER BY mr.role_id)
                   FROM membership_roles mr WHERE mr.membership_id = m.id), '{}') AS role_ids
  FROM memberships m`;

/** The column a member reference is stored in, and its id. */
const whereMember = (ref: MemberRef) =>
  ref.kind === 'user'
    ? sql.fragment`m.user_id = ${ref.id}`
    : sql.fragment`m.service_account_id = ${ref.id}`;

/** Replaces the membership's roles (their scope was checked by the caller). */
async function writeMemberRoles(db: Db, membershipId: string, roleIds: readonly string[]) {
  await db.query(sql.typeAlias('void')`
    DELETE FROM membership_roles WHERE membership_id = ${membershipId}`);
  if (roleIds.length === 0) return;
  await db.query(sql.typeAlias('void')`
    INSERT INTO membership_roles (membership_id, role_id)
    SELECT ${membershipId}, unnest(${sql.array([...roleIds], 'uuid')})`);
}

const idRow = z.object({ id: z.string() });

/** Adds a member with roles; the partial unique indexes decide ALREADY_MEMBER. */
export async function insertMember(
  db: Db,
  organizationId: string,
  ref: MemberRef,
  roleIds: readonly string[],
): Promise<Member> {
  let id: string;
  try {
    id = await db.oneFirst(sql.type(idRow)`
      INSERT INTO memberships (organization_id, user_id, service_account_id)
      VALUES (${organizationId}, ${ref.kind === 'user' ? ref.id : null},
              ${ref.kind === 'service_account' ? ref.id : null})
      RETURNING id`);
  } catch (error) {
    if (
      error instanceof UniqueIntegrityConstraintViolationError &&
      (error.constraint === 'memberships_org_user_key' ||
        error.constraint === 'memberships_org_sa_key')
    ) {
      throw new AppError('ALREADY_MEMBER', 'already a member of this organisation');
    }
    throw error;
  }
  await writeMemberRoles(db, id, roleIds);
  return getMember(db, organizationId, ref);
}

/** The membership of `ref` in the organisation; MEMBERSHIP_NOT_FOUND otherwise. */
export async function getMember(
  db: Db,
  organizationId: string,
  ref: MemberRef,
  options: { forUpdate?: boolean } = {},
): Promise<Member> {
  const row = await db.maybeOne(sql.type(memberRow)`
    ${SELECT_MEMBER} WHERE m.organization_id = ${organizationId} AND ${whereMember(ref)}
    ${options.forUpdate ? sql.fragment`FOR UPDATE OF m` : sql.fragment``}`);
  if (row === null) {
    throw new AppError('MEMBERSHIP_NOT_FOUND', 'not a member of this organisation');
  }
  return toMember(row);
}

/** Sets a member's roles; returns the membership afterwards. */
export async function setMemberRoles(
  db: Db,
  organizationId: string,
  ref: MemberRef,
  roleIds: readonly string[],
): Promise<Member> {
  const member = await getMember(db, organizationId, ref, { forUpdate: true });
  await writeMemberRoles(db, member.id, roleIds);
  return getMember(db, organizationId, ref);
}

/** Ends a membership (its roles go with it); MEMBERSHIP_NOT_FOUND if there is none. */
export async function deleteMember(db: Db, organizationId: string, ref: MemberRef) {
  const deleted = await db.maybeOneFirst(sql.type(idRow)`
    DELETE FROM memberships m
    WHERE m.organization_id = ${organizationId} AND ${whereMember(ref)}
    RETURNING m.id`);
  if (deleted === null) {
    throw new AppError('MEMBERSHIP_NOT_FOUND', 'not a member of this organisation');
  }
}

const memberCursorCreatedAtRow = memberRow.extend({ cursor_created_at: z.string() });

/**
 * One page of an organisation's members in (created_at, id) order after `after`; a keyset
 * scan on memberships_org_created_at_id_idx.
 */
export async function findMembersPage(
  db: Db,
  organizationId: string,
  after: TimeIdCursor | null,
  limit: number,
): Promise<{ member: Member; cursor: TimeIdCursor }[]> {
  const conditions = [sql.fragment`organization_id = ${organizationId}`];
  if (after !== null) conditions.push(afterCursor(after));
  const rows = await db.any(sql.type(memberCursorCreatedAtRow)`
    SELECT p.*, to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')
             AS cursor_created_at
    FROM (${SELECT_MEMBER}) p
    WHERE ${sql.join(conditions, sql.fragment` AND `)}
    ORDER BY created_at, id
    LIMIT ${limit}`);
  return rows.map((r) => ({
    member: toMember(r),
    cursor: { createdAt: r.cursor_created_at, id: r.id },
  }));
}

const countRow = z.object({ count: z.number() });

/**
 * How many memberships of the organisation other than `exceptMembershipId` hold `permission`
 * through their organisation roles: the managers left if that one lost it. Callers lock the
 * organisation first, so concurrent removals count one after the other.
 */
export async function countMembersWithPermission(
  db: Db,
  organizationId: string,
  permission: string,
  exceptMembershipId: string,
): Promise<number> {
  return db.oneFirst(sql.type(countRow)`
    SELECT count(DISTINCT m.id)::int AS count
    FROM memberships m
    JOIN membership_roles mr ON mr.membership_id = m.id
    JOIN roles r ON r.id = mr.role_id AND r.scope = 'organization'
    JOIN role_permissions rp ON rp.role_id = r.id AND rp.permission = ${permission}
    WHERE m.organization_id = ${organizationId} AND m.id <> ${exceptMembershipId}`);
}

/**
 * Adds a member with roles unless it is one already: then null and nothing is written, without
 * aborting the transaction (an import creating or updating memberships).
 */
export async function insertMemberUnlessPresent(
  db: Db,
  organizationId: string,
  ref: MemberRef,
  roleIds: readonly string[],
): Promise<Member | null> {
  const id = await db.maybeOneFirst(sql.type(idRow)`
    INSERT INTO memberships (organization_id, user_id, service_account_id)
    VALUES (${organizationId}, ${ref.kind === 'user' ? ref.id : null},
            ${ref.kind === 'service_account' ? ref.id : null})
    ON CONFLICT DO NOTHING
    RETURNING id`);
  if (id === null) return null;
  await writeMemberRoles(db, id, roleIds);
  return getMember(db, organizationId, ref);
}
