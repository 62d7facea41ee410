import { z } from 'zod';
import type { Permission } from '../domain/Role.ts';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

/** The permissions table: the catalog roles draw from. */
const permissionRow = z.object({
  name: z.string(),
  description: z.string(),
  created_at: z.date(),
});

const toPermission = (r: z.infer<typeof permissionRow>): Permission => ({
  name: r.name,
  description: r.description,
  createdAt: r.created_at,
});

/** Adds the permission, or sets the description of the one already named so (an upsert). */
export async function upsertPermission(
  db: Db,
  name: string,
  description: string,
): Promise<Permission> {
  return toPermission(
    await db.one(sql.type(permissionRow)`
      INSERT INTO permissions (name, description) VALUES (${name}, ${description})
      ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description
      RETURNING name, description, created_at`),
  );
}

/** Up to `limit` permissions in name order. */
export async function findPermissions(db: Db, limit: number): Promise<Permission[]> {
  const rows = await db.any(sql.type(permissionRow)`
    SELECT name, description, created_at FROM permissions ORDER BY name LIMIT ${limit}`);
  return rows.map(toPermission);
}

const nameRow = z.object({ name: z.string() });

/** Which of `names` are not in the catalog (locked against deletion until the transaction ends). */
export async function findUnknownPermissions(db: Db, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const known = await db.anyFirst(sql.type(nameRow)`
    SELECT name FROM permissions WHERE name = ANY(${sql.array([...names], 'text')})
    FOR KEY SHARE`);
  const found = new Set(known);
  return names.filter((n) => !found.has(n));
}
