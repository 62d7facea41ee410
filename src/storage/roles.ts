import { UniqueIntegrityConstraintViolationError } from 'slonik';
import { z } from 'zod';
import type { NewRole, Role, RoleScope } from '../domain/Role.ts';
import { AppError } from '../errors/AppError.ts';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

/** The roles table with each role's permissions (role_permissions) folded in, sorted. */
const roleRow = z.object({
  id: z.string(),
  name: z.string(),
  scope: z.enum(['global', 'organization']),
  description: z.string(),
  permissions: z.array(z.string()),
  created_at: z.date(),
  updated_at: z.date(),
});
type RoleRow = z.infer<typeof roleRow>;

const toRole = (r: RoleRow): Role => ({
  id: r.id,
  name: r.name,
  scope: r.scope,
  description: r.description,
  permissions: r.permissions,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const SELECT_ROLE = sql.fragment`
  SELECT r.id, r.name, r.scope, r.description, r.created_at, r.updated_at,
         coalesce((SELECT array_agg(p.permission ORDER BY p.permission)
                   FROM role_permissions p WHERE p.role_id = r.id), '{}') AS permissions
  FROM roles r`;

const roleNotFound = () => new AppError('ROLE_NOT_FOUND', 'no such role');

/** Replaces the role's permission set (the catalog was checked by the caller). */
async function writeRolePermissions(db: Db, roleId: string, permissions: readonly string[]) {
  await db.query(sql.typeAlias('void')`DELETE FROM role_permissions WHERE role_id = ${roleId}`);
  if (permissions.length === 0) return;
  await db.query(sql.typeAlias('void')`
    INSERT INTO role_permissions (role_id, permission)
    SELECT ${roleId}, unnest(${sql.array([...permissions], 'text')})`);
}

const idRow = z.object({ id: z.string() });

/** Inserts a role with its permissions; the (scope, name) unique key decides ROLE_NAME_TAKEN. */
export async function insertRole(db: Db, role: NewRole): Promise<Role> {
  let id: string;
  try {
    id = await db.oneFirst(sql.type(idRow)`
      INSERT INTO roles (name, scope, description)
      VALUES (${role.name}, ${role.scope}, ${role.description})
      RETURNING id`);
  } catch (error) {
    if (
      error instanceof UniqueIntegrityConstraintViolationError &&
      error.constraint === 'roles_scope_name_key'
    ) {
      throw new AppError('ROLE_NAME_TAKEN', `a ${role.scope} role with this name already exists`);
    }
    throw error;
  }
  await writeRolePermissions(db, id, role.permissions);
  return getRoleById(db, id);
}

/** The role with this id; ROLE_NOT_FOUND otherwise. `forUpdate` locks its row. */
export async function getRoleById(
  db: Db,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<Role> {
  const row = await db.maybeOne(sql.type(roleRow)`
    ${SELECT_ROLE} WHERE r.id = ${id}
    ${options.forUpdate ? sql.fragment`FOR UPDATE OF r` : sql.fragment``}`);
  if (row === null) throw roleNotFound();
  return toRole(row);
}

/** Up to `limit` roles of one scope (null: both), by scope then name. */
export async function findRoles(db: Db, scope: RoleScope | null, limit: number): Promise<Role[]> {
  const rows = await db.any(sql.type(roleRow)`
    ${SELECT_ROLE}
    WHERE ${scope === null ? sql.fragment`TRUE` : sql.fragment`r.scope = ${scope}`}
    ORDER BY r.scope, r.name
    LIMIT ${limit}`);
  return rows.map(toRole);
}

const idScopeRow = z.object({ id: z.string(), scope: roleRow.shape.scope });

/** The scope of each of `ids` that exists, locked against deletion until the transaction ends. */
export async function findRoleScopes(
  db: Db,
  ids: readonly string[],
): Promise<Map<string, RoleScope>> {
  if (ids.length === 0) return new Map();
  const rows = await db.any(sql.type(idScopeRow)`
    SELECT id, scope FROM roles WHERE id = ANY(${sql.array([...ids], 'uuid')}) FOR KEY SHARE`);
  return new Map(rows.map((r) => [r.id, r.scope]));
}

/** Changes of UpdateRole; a present key is written. */
export interface RoleChanges {
  description?: string;
  permissions?: readonly string[];
}

/** Writes the given fields of an existing role. */
export async function updateRole(db: Db, id: string, changes: RoleChanges): Promise<Role> {
  const sets = [sql.fragment`updated_at = now()`];
  if (changes.description !== undefined) {
    sets.push(sql.fragment`description = ${changes.description}`);
  }
  await db.query(sql.typeAlias('void')`
    UPDATE roles SET ${sql.join(sets, sql.fragment`, `)} WHERE id = ${id}`);
  if (changes.permissions !== undefined) await writeRolePermissions(db, id, changes.permissions);
  return getRoleById(db, id);
}

/** Deletes a role (its grants in role_permissions and membership_roles go with it). */
export async function deleteRole(db: Db, id: string): Promise<void> {
  const deleted = await db.maybeOneFirst(sql.type(idRow)`
    DELETE FROM roles WHERE id = ${id} RETURNING id`);
  if (deleted === null) throw roleNotFound();
}

const idPermissionsRow = z.object({ id: z.string(), permissions: z.array(z.string()) });

/** The permissions of each of `ids` that exists (a role without any maps to []). */
export async function findRolePermissions(
  db: Db,
  ids: readonly string[],
): Promise<Map<string, string[]>> {
  if (ids.length === 0) return new Map();
  const rows = await db.any(sql.type(idPermissionsRow)`
    SELECT r.id, coalesce(array_agg(p.permission ORDER BY p.permission)
                            FILTER (WHERE p.permission IS NOT NULL), '{}') AS permissions
    FROM roles r LEFT JOIN role_permissions p ON p.role_id = r.id
    WHERE r.id = ANY(${sql.array([...ids], 'uuid')})
    GROUP BY r.id`);
  return new Map(rows.map((r) => [r.id, r.permissions]));
}

const idNameRow = z.object({ id: z.string(), name: z.string() });

/**
 * The id of each of `names` that names a role of scope 'organization', locked against deletion
 * until the transaction ends (ImportMemberships names roles by name).
 */
export async function findOrganizationRoleIdsByName(
  db: Db,
  names: readonly string[],
): Promise<Map<string, string>> {
  if (names.length === 0) return new Map();
  const rows = await db.any(sql.type(idNameRow)`
    SELECT id, name FROM roles
    WHERE scope = 'organization' AND name = ANY(${sql.array([...names], 'text')})
    FOR KEY SHARE`);
  return new Map(rows.map((r) => [r.name, r.id]));
}
