import { publishRevocations } from '../auth/issueSession.ts';
import { type ManagedUser, toManagedUser } from '../domain/User.ts';
import { revokeSessions } from '../storage/sessions.ts';
import { getUserById, lockAdminMembership, updateUserStatus } from '../storage/users.ts';
import type { AdminDeps } from './AdminDeps.ts';
import { assertNotLastActiveAdmin } from './assertNotLastActiveAdmin.ts';
import type { AdminCall } from './createAdminCallRunner.ts';
import { requireUserId } from './requireUserId.ts';

/**
 * Disables a user and revokes every session at once (its access tokens stop validating, its
 * refresh tokens stop working); idempotent. Never the last active admin.
 */
export async function disableUser(
  deps: AdminDeps,
  call: AdminCall,
  userId: string,
): Promise<ManagedUser> {
  const id = requireUserId(userId);
  const { account, revoked } = await call.transaction(async (tx) => {
    await lockAdminMembership(tx);
    const before = await getUserById(tx, id, { forUpdate: true });
    await assertNotLastActiveAdmin(tx, before.user);
    const account =
      before.user.status === 'disabled' ? before : await updateUserStatus(tx, id, 'disabled');
    const revoked = await revokeSessions(tx, { userId: id }, 'admin_disable');
    call.note({
      details: { previous_status: before.user.status, revoked_sessions: revoked.length },
    });
    return { account, revoked };
  });
  await publishRevocations(deps, revoked, 'admin_disable');
  return toManagedUser(account, deps.hasher);
}
