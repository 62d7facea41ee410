import { markSessionsRevoked } from '../sessions/updateSessionCache.ts';
import { getUserById, lockAdminMembership, updateUserStatus } from '../storage/adminUsers.ts';
import { revokeSessions } from '../storage/sessions.ts';
import type { UserRow } from '../storage/users.ts';
import type { AdminDeps } from './AdminDeps.ts';
import type { AuditScope } from './AuditScope.ts';
import { assertNotLastActiveAdmin } from './assertNotLastActiveAdmin.ts';
import { requireUserId } from './requireUserId.ts';

/**
 * Disables a user and revokes every session at once (its access tokens stop validating, its
 * refresh tokens stop working); idempotent. Never the last active admin.
 */
export async function disableUser(
  deps: AdminDeps,
  audit: AuditScope,
  userId: string,
): Promise<UserRow> {
  const id = requireUserId(userId);
  const { user, revoked } = await audit.transaction(async (tx) => {
    await lockAdminMembership(tx);
    const before = await getUserById(tx, id, { forUpdate: true });
    await assertNotLastActiveAdmin(tx, before);
    const user = before.status === 'disabled' ? before : await updateUserStatus(tx, id, 'disabled');
    const revoked = await revokeSessions(tx, { userId: id }, 'admin_disable');
    audit.note({ details: { previous_status: before.status, revoked_sessions: revoked.length } });
    return { user, revoked };
  });
  await markSessionsRevoked(deps, revoked, 'admin_disable');
  return user;
}
