import { randomUUID } from 'node:crypto';
import type { TestDatabase } from './testDatabase.ts';

/** Rows of the permission model written straight into PostgreSQL, for tests of its readers. */
export interface OrgFixtures {
  /** A role of `scope` granting `permissions` (defined on the way); returns its id. */
  role(name: string, scope: 'global' | 'organization', permissions: string[]): Promise<string>;
  /** A new organisation with a unique slug; returns its id. */
  organization(status?: 'active' | 'disabled' | 'deleted'): Promise<string>;
  /** Makes the user a member with these roles; returns the membership id. */
  member(organizationId: string, userId: string, roleIds: string[]): Promise<string>;
}

/** A name unique to this run, e.g. for role names and slugs. */
export const uniqueName = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

export function orgFixtures(db: TestDatabase): OrgFixtures {
  const first = async (text: string, params: unknown[]) => {
    const [row] = await db.query<{ id: string }>(text, params);
    if (row === undefined) throw new Error(`no row from ${text}`);
    return row.id;
  };
  return {
    async role(name, scope, permissions) {
      for (const p of permissions) {
        await db.query(`INSERT INTO permissions (name) VALUES ($1) ON CONFLICT DO NOTHING`, [p]);
      }
      const id = await first(`INSERT INTO roles (name, scope) VALUES ($1, $2) RETURNING id`, [
        name,
        scope,
      ]);
      for (const p of permissions) {
        await db.query(`INSERT INTO role_permissions (role_id, permission) VALUES ($1, $2)`, [
          id,
          p,
        ]);
      }
      return id;
    },
    organization: (status = 'active') =>
      first(
        `INSERT INTO organizations (slug, display_name, status) VALUES ($1, $2, $3) RETURNING id`,
        [uniqueName('hotel'), 'Hotel', status],
      ),
    async member(organizationId, userId, roleIds) {
      const id = await first(
        `INSERT INTO memberships (organization_id, user_id) VALUES ($1, $2) RETURNING id`,
        [organizationId, userId],
      );
      for (const r of roleIds) {
        await db.query(`INSERT INTO membership_roles (membership_id, role_id) VALUES ($1, $2)`, [
          id,
          r,
        ]);
      }
      return id;
    },
  };
}
