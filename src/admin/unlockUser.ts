import { type ManagedUser, toManagedUser } from '../domain/User.ts';
import { getUserById, updateUserUnlocked } from '../storage/users.ts';
import type { AdminDeps } from './AdminDeps.ts';
import type { AdminCall } from './createAdminCallRunner.ts';
import { requireUserId } from './requireUserId.ts';

/** Clears a lockout and the failure counters; idempotent. */
export async function unlockUser(
  deps: AdminDeps,
  call: AdminCall,
  userId: string,
): Promise<ManagedUser> {
  const id = requireUserId(userId);
  const unlocked = await call.transaction(async (tx) => {
    const before = await getUserById(tx, id, { forUpdate: true });
    call.note({
      details: {
        failed_login_count: before.failedLoginCount,
        lockout_count: before.lockoutCount,
        was_locked: before.lockedUntil !== null && before.lockedUntil > new Date(),
      },
    });
    return updateUserUnlocked(tx, id);
  });
  return toManagedUser(unlocked, deps.hasher);
}
