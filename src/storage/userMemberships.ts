import { z } from 'zod';
import type { OrganizationStatus } from '../domain/Organization.ts';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

// A user's own memberships, as sessions see them: the organisation a session may act in, and
// the organisation role NAMES its tokens carry (memberships.ts speaks in role ids, for admins).

/** A user's membership in one organisation, with the organisation's status and role names. */
export interface UserMembership {
  membershipId: string;
  organizationStatus: OrganizationStatus;
  /** Names of the membership's organisation-scope roles, sorted. */
  roleNames: string[];
}

/** One membership of a user in an active organisation, for ListMyOrganizations. */
export interface UserOrganization {
  organizationId: string;
  slug: string;
  displayName: string;
  roleNames: string[];
}

/** The names of a membership's organisation-scope roles, sorted (a correlated subquery). */
const ROLE_NAMES = sql.fragment`
  coalesce((SELECT array_agg(r.name ORDER BY r.name)
            FROM membership_roles mr JOIN roles r ON r.id = mr.role_id AND r.scope = 'organization'
            WHERE mr.membership_id = m.id), '{}') AS role_names`;

const membershipRow = z.object({
  id: z.string(),
  status: z.enum(['active', 'disabled', 'deleted']),
  role_names: z.array(z.string()),
});

/**
 * The user's membership in the organisation with its status and role names, or null when the
 * user is not a member (or there is no such organisation). The membership row is share-locked
 * until the transaction ends, so it cannot be removed while a session is being set to it.
 */
export async function findUserMembership(
  db: Db,
  userId: string,
  organizationId: string,
): Promise<UserMembership | null> {
  const row = await db.maybeOne(sql.type(membershipRow)`
    SELECT m.id, o.status, ${ROLE_NAMES}
    FROM memberships m JOIN organizations o ON o.id = m.organization_id
    WHERE m.organization_id = ${organizationId} AND m.user_id = ${userId}
    FOR SHARE OF m`);
  return row && { membershipId: row.id, organizationStatus: row.status, roleNames: row.role_names };
}

const organizationRow = z.object({
  organization_id: z.string(),
  slug: z.string(),
  display_name: z.string(),
  role_names: z.array(z.string()),
});

/** Up to `limit` of the user's memberships in active organisations, by slug. */
export async function findUserOrganizations(
  db: Db,
  userId: string,
  limit: number,
): Promise<UserOrganization[]> {
  const rows = await db.any(sql.type(organizationRow)`
    SELECT o.id AS organization_id, o.slug, o.display_name, ${ROLE_NAMES}
    FROM memberships m JOIN organizations o ON o.id = m.organization_id
    WHERE m.user_id = ${userId} AND o.status = 'active'
    ORDER BY o.slug, o.id
    LIMIT ${limit}`);
  return rows.map((r) => ({
    organizationId: r.organization_id,
    slug: r.slug,
    displayName: r.display_name,
    roleNames: r.role_names,
  }));
}
