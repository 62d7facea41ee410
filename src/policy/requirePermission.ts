import { isUuid } from '../auth/normalize.ts';
import type { PermissionCache } from '../authz/createPermissionCache.ts';
import { actingOf, actingRoles, decidePermission } from '../authz/decidePermission.ts';
import type { CallAccess } from '../domain/CallAccess.ts';
import type { PermissionGrants } from '../domain/PermissionGrants.ts';
import { AppError } from '../errors/AppError.ts';
import { invalidAccessToken } from '../errors/invalidAccessToken.ts';
import type { Db } from '../storage/Db.ts';
import type { MethodPolicy, PermissionRequirementPolicy } from './MethodPolicy.ts';
import { currentRoles } from './requireRole.ts';
import type { Step } from './Step.ts';

/** The organisation id at `path` of the request, trimmed and lower-cased, if it is a UUID. */
function organizationAt(request: unknown, path: readonly string[]): string | null {
  let value: unknown = request;
  for (const key of path) value = (value as Record<string, unknown> | null | undefined)?.[key];
  if (typeof value !== 'string') return null;
  const id = value.trim().toLowerCase();
  return isUuid(id) ? id : null;
}

/**
 * Every permission `grants` gives in its organisation to a principal acting with `roles`:
 * those of its global roles, and of its membership roles while the organisation is active.
 */
export function heldPermissions(grants: PermissionGrants, roles: readonly string[]): string[] {
  const held = new Set(
    grants.globalGrants.filter((g) => roles.includes(g.role)).map((g) => g.permission),
  );
  const org = grants.organization;
  if (grants.accountActive && org?.status === 'active' && org.member) {
    for (const g of org.grants) held.add(g.permission);
  }
  return grants.accountActive ? [...held].sort() : [];
}

/**
 * `required_permission` (with or without `required_role`): after authentication and before
 * the handler, admits a caller that holds the role now (PostgreSQL, like requireRole), or else
 * the permission in the organisation the request names (the permission cache, like
 * CheckPermission: global roles, an API key's narrowed to the key's, and the membership's
 * roles there). Anything else, a missing or malformed organisation id included, is
 * PERMISSION_DENIED PERMISSION_REQUIRED before the handler validates or looks up anything.
 * `call.access` says which way the caller got in; an audited call's event records it.
 */
export function requirePermissionStep(
  policy: MethodPolicy,
  db: Db,
  permissions: PermissionCache,
): Step | null {
  const required: PermissionRequirementPolicy | null = policy.requiredPermission;
  if (required === null) return null;
  const role = policy.requiredRole;
  if (required.organizationPath.length === 0) {
    return requireGlobalPermission(required.permission, role, db, permissions);
  }
  const refusal = new AppError(
    'PERMISSION_REQUIRED',
    role === null
      ? `this call needs the permission ${required.permission} in the organisation it names`
      : `this call needs the ${role} role, or the permission ${required.permission} in the organisation it names`,
  );
  return async (call, next) => {
    const principal = call.principal;
    if (principal === undefined) throw new Error(`${call.path}: a permission needs a principal`);
    const organizationId = organizationAt(call.request, required.organizationPath);
    if (organizationId !== null) call.audit?.note({ details: { organization_id: organizationId } });
    let access: CallAccess | null = null;
    if (role !== null) {
      const roles = await currentRoles(db, principal);
      if (roles === null) throw invalidAccessToken();
      if (roles.includes(role)) access = { kind: 'role' };
    }
    if (access === null) {
      if (organizationId === null) throw refusal;
      const { subject, keyRoles } = actingOf(principal);
      const grants = await permissions.grants(subject, organizationId);
      const roles = actingRoles(grants, keyRoles);
      if (!decidePermission(grants, roles, required.permission).allowed) throw refusal;
      access = {
        kind: 'permission',
        organizationId,
        permissions: heldPermissions(grants, roles),
      };
    }
    call.access = access;
    call.audit?.note({ details: { access: access.kind } });
    return next();
  };
}

/**
 * `required_permission` naming no organisation: the caller holds the role, or a global role
 * (as it acts: an API key's narrowed to the key's roles) grants the permission.
 */
function requireGlobalPermission(
  permission: string,
  role: string | null,
  db: Db,
  permissions: PermissionCache,
): Step {
  const refusal = new AppError(
    'PERMISSION_REQUIRED',
    role === null
      ? `this call needs the permission ${permission} (granted by a global role)`
      : `this call needs the ${role} role, or the permission ${permission} (granted by a global role)`,
  );
  return async (call, next) => {
    const principal = call.principal;
    if (principal === undefined) throw new Error(`${call.path}: a permission needs a principal`);
    let access: CallAccess | null = null;
    if (role !== null) {
      const roles = await currentRoles(db, principal);
      if (roles === null) throw invalidAccessToken();
      if (roles.includes(role)) access = { kind: 'role' };
    }
    if (access === null) {
      const { subject, keyRoles } = actingOf(principal);
      const grants = await permissions.grants(subject, null);
      const roles = actingRoles(grants, keyRoles);
      if (!decidePermission(grants, roles, permission).allowed) throw refusal;
      access = { kind: 'global_permission', permissions: heldPermissions(grants, roles) };
    }
    call.access = access;
    call.audit?.note({ details: { access: access.kind } });
    return next();
  };
}
