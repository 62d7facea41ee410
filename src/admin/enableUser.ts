import { forgetCachedSessions } from '../sessions/updateSessionCache.ts';
import { getUserById, updateUserStatus } from '../storage/adminUsers.ts';
import { findLiveSessionIdsByUser } from '../storage/sessions.ts';
import type { UserRow } from '../storage/users.ts';
import type { AdminDeps } from './AdminDeps.ts';
import type { AuditScope } from './AuditScope.ts';
import { requireUserId } from './requireUserId.ts';

/**
 * Re-enables a disabled user; idempotent; a lockout stays (see unlockUser). DisableUser revoked
 * every session, but a user disabled by other means may have unrevoked ones whose cached
 * "not live" state must go, so they are dropped from the cache after the commit.
 */
export async function enableUser(
  deps: AdminDeps,
  audit: AuditScope,
  userId: string,
): Promise<UserRow> {
  const id = requireUserId(userId);
  const { user, liveSessionIds } = await audit.transaction(async (tx) => {
    const before = await getUserById(tx, id, { forUpdate: true });
    audit.note({ details: { previous_status: before.status } });
    if (before.status === 'active') return { user: before, liveSessionIds: [] };
    return {
      user: await updateUserStatus(tx, id, 'active'),
      liveSessionIds: await findLiveSessionIdsByUser(tx, id),
    };
  });
  await forgetCachedSessions(deps, liveSessionIds);
  return user;
}
