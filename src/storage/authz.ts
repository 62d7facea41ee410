import { z } from 'zod';
import type { AuthzSubject, PermissionGrants } from '../domain/PermissionGrants.ts';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

const grant = z.object({ role: z.string(), permission: z.string() });

const grantsRow = z.object({
  account_status: z.enum(['active', 'disabled', 'deleted']).nullable(),
  account_roles: z.array(z.string()).nullable(),
  global_grants: z.array(grant),
  organization_status: z.enum(['active', 'disabled', 'deleted']).nullable(),
  member: z.boolean(),
  organization_roles: z.array(z.string()),
  organization_grants: z.array(grant),
});

/**
 * Everything a permission check of `subject` (in `organizationId`, when not null) needs, in one
 * query: the account's status and global role names, the permissions each of those roles grants
 * (a name without a global role row grants nothing), and in the organisation its status,
 * whether the subject is a member, its membership's role names and what those roles grant.
 */
export async function findPermissionGrants(
  db: Db,
  subject: AuthzSubject,
  organizationId: string | null,
): Promise<PermissionGrants> {
  const userId = subject.kind === 'user' ? subject.id : null;
  const serviceAccountId = subject.kind === 'service_account' ? subject.id : null;
  const r = await db.one(sql.type(grantsRow)`
    WITH account AS (
      SELECT status, roles FROM users WHERE id = ${userId}::uuid
      UNION ALL
      SELECT status, roles FROM service_accounts WHERE id = ${serviceAccountId}::uuid
    ), membership AS (
      SELECT m.id FROM memberships m
      WHERE m.organization_id = ${organizationId}::uuid
        AND (m.user_id = ${userId}::uuid OR m.service_account_id = ${serviceAccountId}::uuid)
    )
    SELECT
      (SELECT status FROM account) AS account_status,
      (SELECT roles FROM account) AS account_roles,
      coalesce((
        SELECT json_agg(json_build_object('role', r.name, 'permission', rp.permission))
        FROM roles r JOIN role_permissions rp ON rp.role_id = r.id
        WHERE r.scope = 'global' AND r.name = ANY ((SELECT roles FROM account)::text[])
      ), '[]'::json) AS global_grants,
      (SELECT status FROM organizations WHERE id = ${organizationId}::uuid) AS organization_status,
      EXISTS (SELECT 1 FROM membership) AS member,
      coalesce((
        SELECT array_agg(r.name ORDER BY r.name)
        FROM membership m
        JOIN membership_roles mr ON mr.membership_id = m.id
        JOIN roles r ON r.id = mr.role_id AND r.scope = 'organization'
      ), '{}') AS organization_roles,
      coalesce((
        SELECT json_agg(json_build_object('role', r.name, 'permission', rp.permission))
        FROM membership m
        JOIN membership_roles mr ON mr.membership_id = m.id
        JOIN roles r ON r.id = mr.role_id AND r.scope = 'organization'
        JOIN role_permissions rp ON rp.role_id = r.id
      ), '[]'::json) AS organization_grants`);
  return {
    accountActive: r.account_status === 'active',
    roles: r.account_roles ?? [],
    globalGrants: r.global_grants,
    organization:
      organizationId === null
        ? null
        : {
            status: r.organization_status ?? 'not_found',
            member: r.member,
            roles: r.organization_roles,
            grants: r.organization_grants,
          },
  };
}

const namePermissionsRow = z.object({ name: z.string(), permissions: z.array(z.string()) });

/**
 * Every global role's permissions, by role name (roles without any are left out): the catalog
 * a credential's global roles are looked up in when no organisation is involved. Global roles
 * are few (an operator defines them), so the whole table is read at once.
 */
export async function findGlobalRoleGrants(db: Db): Promise<Map<string, string[]>> {
  const rows = await db.any(sql.type(namePermissionsRow)`
    SELECT r.name, array_agg(rp.permission ORDER BY rp.permission) AS permissions
    FROM roles r JOIN role_permissions rp ON rp.role_id = r.id
    WHERE r.scope = 'global'
    GROUP BY r.name`);
  return new Map(rows.map((r) => [r.name, r.permissions]));
}
