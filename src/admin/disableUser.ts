import { type ManagedUser, toManagedUser } from '../domain/User.ts';
import type { AdminDeps } from './AdminDeps.ts';
import { changeUserStatus } from './changeUserStatus.ts';
import type { AdminCall } from './createAdminCallRunner.ts';

/**
 * Disables a user and revokes every session at once (its access tokens stop validating, its
 * refresh tokens stop working); idempotent. Never the last active admin.
 */
export async function disableUser(
  deps: AdminDeps,
  call: AdminCall,
  userId: string,
): Promise<ManagedUser> {
  return toManagedUser(await changeUserStatus(deps, call, userId, 'disabled'), deps.hasher);
}
