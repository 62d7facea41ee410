import { type ManagedUser, toManagedUser } from '../domain/User.ts';
import { findLiveSessionIdsByUser } from '../storage/sessions.ts';
import { getUserById, updateUserStatus } from '../storage/users.ts';
import type { AdminDeps } from './AdminDeps.ts';
import type { AdminCall } from './createAdminCallRunner.ts';
import { forgetCachedSessions } from './forgetCachedSessions.ts';
import { requireUserId } from './requireUserId.ts';

/**
 * Re-enables a disabled user; idempotent; a lockout stays (see unlockUser). DisableUser revoked
 * every session, but a user disabled by other means may have unrevoked ones whose cached
 * "not live" state must go, so they are dropped from the cache after the commit.
 */
export async function enableUser(
  deps: AdminDeps,
  call: AdminCall,
  userId: string,
): Promise<ManagedUser> {
  const id = requireUserId(userId);
  const { account, liveSessionIds } = await call.transaction(async (tx) => {
    const before = await getUserById(tx, id, { forUpdate: true });
    call.note({ details: { previous_status: before.user.status } });
    if (before.user.status === 'active') return { account: before, liveSessionIds: [] };
    return {
      account: await updateUserStatus(tx, id, 'active'),
      liveSessionIds: await findLiveSessionIdsByUser(tx, id),
    };
  });
  await forgetCachedSessions(deps, liveSessionIds);
  return toManagedUser(account, deps.hasher);
}
