import { type ManagedUser, toManagedUser } from '../domain/User.ts';
import { getUserById, updateUserUnlocked } from '../storage/users.ts';
import type { AdminDeps } from './AdminDeps.ts';
import type { AuditScope } from './AuditScope.ts';
import { requireUserId } from './requireUserId.ts';

/** Clears a lockout and the failure counters; idempotent. */
export async function unlockUser(
  deps: Pick<AdminDeps, 'hasher'>,
  audit: AuditScope,
  userId: string,
): Promise<ManagedUser> {
  const id = requireUserId(userId);
  const unlocked = await audit.transaction(async (tx) => {
    const before = await getUserById(tx, id, { forUpdate: true });
    audit.note({
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
