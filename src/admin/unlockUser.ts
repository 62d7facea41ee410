import { getUserById, type UserRow, updateUserUnlocked } from '../storage/users.ts';
import type { AdminCall } from './createAdminCallRunner.ts';
import { requireUserId } from './requireUserId.ts';

/** Clears a lockout and the failure counters; idempotent. */
export async function unlockUser(call: AdminCall, userId: string): Promise<UserRow> {
  const id = requireUserId(userId);
  return call.transaction(async (tx) => {
    const before = await getUserById(tx, id, { forUpdate: true });
    call.note({
      details: {
        failed_login_count: before.failed_login_count,
        lockout_count: before.lockout_count,
        was_locked: before.locked_until !== null && before.locked_until > new Date(),
      },
    });
    return updateUserUnlocked(tx, id);
  });
}
