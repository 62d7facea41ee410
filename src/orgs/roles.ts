import type { AdminDeps } from '../admin/AdminDeps.ts';
import type { AuditScope } from '../admin/AuditScope.ts';
import { normalizeDescription } from '../admin/checkServiceAccountFields.ts';
import { parseUpdateMask } from '../admin/parseUpdateMask.ts';
import { requireId } from '../admin/requireUserId.ts';
import { isViolation } from '../auth/normalize.ts';
import type { Permission, Role, RoleScope } from '../domain/Role.ts';
import { AppError, type FieldViolation, invalidArgument } from '../errors/AppError.ts';
import type { Db } from '../storage/Db.ts';
import {
  findPermissions,
  findUnknownPermissions,
  upsertPermission,
} from '../storage/permissions.ts';
import {
  deleteRole as deleteRoleRow,
  findRoles,
  getRoleById,
  insertRole,
  type RoleChanges,
  updateRole as updateRoleRow,
} from '../storage/roles.ts';
import {
  normalizePermissionList,
  normalizePermissionName,
  normalizeRoleName,
} from './checkOrgFields.ts';

/** ListPermissions and ListRoles are simple bounded lists: at most this many entries. */
const LIST_LIMIT = 1000;

/** The update_mask paths UpdateRole accepts (proto field names of Role). */
const UPDATABLE_PATHS = ['description', 'permissions'] as const;

/** Adds a permission to the catalog or sets its description (fires 'authz'). */
export async function definePermission(
  audit: AuditScope,
  input: { name: string; description: string },
): Promise<Permission> {
  const name = normalizePermissionName(input.name);
  const description = normalizeDescription(input.description);
  const violations = [name, description].filter(isViolation);
  if (isViolation(name) || isViolation(description)) throw invalidArgument(violations);
  audit.note({ details: { permission: name } });
  return audit.transaction((tx) => upsertPermission(tx, name, description));
}

/** The catalog in name order, at most LIST_LIMIT entries, and whether there are more. */
export async function listPermissions(
  deps: Pick<AdminDeps, 'pool'>,
): Promise<{ permissions: Permission[]; truncated: boolean }> {
  const rows = await findPermissions(deps.pool, LIST_LIMIT + 1);
  return { permissions: rows.slice(0, LIST_LIMIT), truncated: rows.length > LIST_LIMIT };
}

/**
 * UNKNOWN_PERMISSION naming every permission the catalog lacks (read under lock), by its index
 * in the request's list `requested` of `field`.
 */
async function refuseUnknownPermissions(
  db: Db,
  permissions: readonly string[],
  field: string,
  requested: readonly string[],
) {
  const unknown = await findUnknownPermissions(db, permissions);
  if (unknown.length === 0) return;
  throw new AppError('UNKNOWN_PERMISSION', `not in the permission catalog: ${unknown.join(', ')}`, {
    fieldViolations: unknown.map((p) => ({
      field: `${field}[${requested.indexOf(p)}]`,
      description: `${JSON.stringify(p)} is not in the permission catalog; define it first`,
      reason: 'UNKNOWN_PERMISSION',
    })),
  });
}

const SCOPES: readonly string[] = ['global', 'organization'];

export interface CreateRoleInput {
  name: string;
  /** 'global' | 'organization', or null when the request left it unspecified. */
  scope: string | null;
  permissions: readonly string[];
  description: string;
}

/** Creates a role from catalog permissions; (scope, name) decides ROLE_NAME_TAKEN. */
export async function createRole(audit: AuditScope, input: CreateRoleInput): Promise<Role> {
  const violations: FieldViolation[] = [];
  const scope =
    input.scope !== null && SCOPES.includes(input.scope) ? (input.scope as RoleScope) : null;
  if (scope === null) {
    violations.push({ field: 'scope', description: 'GLOBAL or ORGANIZATION', reason: 'REQUIRED' });
  }
  const name = normalizeRoleName(input.name, scope);
  const permissions = normalizePermissionList(input.permissions);
  const description = normalizeDescription(input.description);
  violations.push(...[name, permissions, description].filter(isViolation));
  if (scope === null || isViolation(name) || isViolation(permissions) || isViolation(description)) {
    throw invalidArgument(violations);
  }
  return audit.transaction(async (tx) => {
    await refuseUnknownPermissions(tx, permissions, 'permissions', input.permissions);
    const role = await insertRole(tx, { name, scope, description, permissions });
    audit.note({
      details: { role_id: role.id, name, scope, permissions: permissions.join(',') },
    });
    return role;
  });
}

/** The role id of a request, or INVALID_ARGUMENT naming `field`. */
const requireRoleId = (value: string | undefined, field = 'role_id') =>
  requireId(value, field, 'role');

/** One role; ROLE_NOT_FOUND otherwise. */
export async function getRole(deps: Pick<AdminDeps, 'pool'>, roleId: string): Promise<Role> {
  return getRoleById(deps.pool, requireRoleId(roleId));
}

/** Roles of one scope (null: both), at most LIST_LIMIT, and whether there are more. */
export async function listRoles(
  deps: Pick<AdminDeps, 'pool'>,
  scope: string | null,
): Promise<{ roles: Role[]; truncated: boolean }> {
  if (scope !== null && !SCOPES.includes(scope)) {
    throw invalidArgument([
      { field: 'scope', description: 'unknown scope', reason: 'INVALID_VALUE' },
    ]);
  }
  const rows = await findRoles(deps.pool, scope as RoleScope | null, LIST_LIMIT + 1);
  return { roles: rows.slice(0, LIST_LIMIT), truncated: rows.length > LIST_LIMIT };
}

export interface UpdateRoleInput {
  role: { id: string; description: string; permissions: string[] } | undefined;
  paths: readonly string[] | undefined;
}

/** Updates description and/or the permission set (replaced whole; fires 'authz'). */
export async function updateRole(audit: AuditScope, input: UpdateRoleInput): Promise<Role> {
  const violations: FieldViolation[] = [];
  const id = requireRoleId(input.role?.id, 'role.id');
  const paths = parseUpdateMask(UPDATABLE_PATHS, input.paths, violations);
  const changes: RoleChanges = {};
  if (input.role && paths.has('description')) {
    const text = normalizeDescription(input.role.description, 'role.description');
    if (isViolation(text)) violations.push(text);
    else changes.description = text;
  }
  if (input.role && paths.has('permissions')) {
    const list = normalizePermissionList(input.role.permissions, 'role.permissions');
    if (isViolation(list)) violations.push(list);
    else changes.permissions = list;
  }
  if (violations.length > 0) throw invalidArgument(violations);
  audit.note({ details: { role_id: id, fields: [...paths].sort().join(',') } });
  return audit.transaction(async (tx) => {
    const before = await getRoleById(tx, id, { forUpdate: true });
    if (changes.permissions !== undefined) {
      await refuseUnknownPermissions(
        tx,
        changes.permissions,
        'role.permissions',
        input.role?.permissions ?? [],
      );
    }
    const updated = await updateRoleRow(tx, id, changes);
    if (changes.permissions !== undefined) {
      audit.note({
        details: {
          previous_permissions: before.permissions.join(','),
          permissions: updated.permissions.join(','),
        },
      });
    }
    return updated;
  });
}

/** Deletes a role and every grant of it (fires 'authz'). */
export async function deleteRole(audit: AuditScope, roleId: string): Promise<void> {
  const id = requireRoleId(roleId);
  audit.note({ details: { role_id: id } });
  await audit.transaction(async (tx) => {
    const role = await getRoleById(tx, id, { forUpdate: true });
    audit.note({ details: { name: role.name, scope: role.scope } });
    await deleteRoleRow(tx, id);
  });
}
