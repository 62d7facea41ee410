import { type ManagedUser, toManagedUser } from '../domain/User.ts';
import type { RevocationDeps } from '../sessions/updateSessionCache.ts';
import type { AdminDeps } from './AdminDeps.ts';
import type { AuditScope } from './AuditScope.ts';
import { changeUserStatus } from './changeUserStatus.ts';

/**
 * Re-enables a disabled user; idempotent; a lockout stays (see unlockUser). DisableUser revoked
 * every session, but a user disabled by other means may have unrevoked ones whose cached
 * "not live" state must go, so they are dropped from the cache after the commit.
 */
export async function enableUser(
  deps: RevocationDeps & Pick<AdminDeps, 'hasher'>,
  audit: AuditScope,
  userId: string,
): Promise<ManagedUser> {
  return toManagedUser(await changeUserStatus(deps, audit, userId, 'active'), deps.hasher);
}
