import type { Principal } from '../auth/Principal.ts';
import { effectiveApiKeyRoles, isApiKeyUsable } from '../domain/ApiKey.ts';
import { AppError, type ErrorReason } from '../errors/AppError.ts';
import { invalidAccessToken } from '../errors/invalidAccessToken.ts';
import { findApiKeyStateById } from '../storage/apiKeys.ts';
import type { Db } from '../storage/Db.ts';
import { findUserById } from '../storage/users.ts';
import type { MethodPolicy } from './MethodPolicy.ts';
import type { Step } from './Step.ts';

/** The roles a call policy may require, each with the refusal a caller without it gets. */
export const ROLE_REFUSALS: Readonly<Record<string, { reason: ErrorReason; message: string }>> = {
  admin: { reason: 'ADMIN_ROLE_REQUIRED', message: 'this call needs the admin role' },
};

/**
 * The roles `principal` holds right now, read from PostgreSQL; null when it is no longer
 * allowed to act at all. A user: their roles while active. An API key: its roles its owner
 * holds, while the key is unrevoked and unexpired and its owner active.
 */
export async function currentRoles(db: Db, principal: Principal): Promise<string[] | null> {
  if (principal.kind === 'user') {
    const user = (await findUserById(db, principal.userId))?.user;
    return user === undefined || user.status !== 'active' ? null : user.roles;
  }
  const state = await findApiKeyStateById(db, principal.apiKeyId);
  return state !== null && isApiKeyUsable(state) ? effectiveApiKeyRoles(state) : null;
}

/**
 * Refuses (PERMISSION_DENIED, e.g. ADMIN_ROLE_REQUIRED) a caller that does not hold `role`
 * right now. Reads PostgreSQL rather than the principal's cached roles: one primary-key lookup
 * per call buys a demotion (or a promotion by the CLI, or by SQL, or a key's revocation) that
 * takes effect on the very next call, with no cache to go stale. A user gone or no longer
 * active, or a key no longer live, is refused like an invalid token (UNAUTHENTICATED).
 */
async function requireRole(db: Db, principal: Principal, role: string): Promise<void> {
  const refusal = ROLE_REFUSALS[role];
  if (refusal === undefined) throw new Error(`no refusal is defined for the role ${role}`);
  const roles = await currentRoles(db, principal);
  if (roles === null) throw invalidAccessToken();
  if (!roles.includes(role)) throw new AppError(refusal.reason, refusal.message);
}

/** `required_role`: the role check, after authentication and before the handler. */
export function requireRoleStep(policy: MethodPolicy, db: Db): Step | null {
  const role = policy.requiredRole;
  if (role === null) return null;
  return async (call, next) => {
    if (call.principal === undefined) throw new Error(`${call.path}: a role needs a principal`);
    await requireRole(db, call.principal, role);
    call.access = { kind: 'role' };
    return next();
  };
}
