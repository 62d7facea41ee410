import { type ManagedUser, toManagedUser } from '../domain/User.ts';
import type { RevocationDeps } from '../sessions/updateSessionCache.ts';
import type { AdminDeps } from './AdminDeps.ts';
import type { AuditScope } from './AuditScope.ts';
import { changeUserStatus } from './changeUserStatus.ts';

/**
 * Disables a user and revokes every session at once (its access tokens stop validating, its
 * refresh tokens stop working); idempotent. Never the last active admin.
 */
export async function disableUser(
  deps: RevocationDeps & Pick<AdminDeps, 'hasher'>,
  audit: AuditScope,
  userId: string,
): Promise<ManagedUser> {
  return toManagedUser(await changeUserStatus(deps, audit, userId, 'disabled'), deps.hasher);
}
