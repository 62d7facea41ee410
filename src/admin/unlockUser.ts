import { getUserById, updateUserUnlocked } from '../storage/adminUsers.ts';
import type { UserRow } from '../storage/users.ts';
import type { AuditScope } from './AuditScope.ts';
import { requireUserId } from './requireUserId.ts';

/** Clears a lockout and the failure counters; idempotent. */
export async function unlockUser(audit: AuditScope, userId: string): Promise<UserRow> {
  const id = requireUserId(userId);
  return audit.transaction(async (tx) => {
    const before = await getUserById(tx, id, { forUpdate: true });
    audit.note({
      details: {
        failed_login_count: before.failed_login_count,
        lockout_count: before.lockout_count,
        was_locked: before.locked_until !== null && before.locked_until > new Date(),
      },
    });
    return updateUserUnlocked(tx, id);
  });
}
