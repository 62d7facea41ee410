import { markSessionsRevoked } from '../sessions/updateSessionCache.ts';
import { getUserById, lockAdminMembership, updateUserStatus } from '../storage/adminUsers.ts';
import { revokeOneTimeTokens } from '../storage/oneTimeTokens.ts';
import { revokeSessions } from '../storage/sessions.ts';
import type { AdminDeps } from './AdminDeps.ts';
import type { AuditScope } from './AuditScope.ts';
import { assertNotLastActiveAdmin } from './assertNotLastActiveAdmin.ts';
import { requireUserId } from './requireUserId.ts';

/**
 * Soft-deletes a user: status 'deleted' and deleted_at are set, every session and unused
 * one-time token is revoked, and the partial unique indexes free the email and username for a
 * new account. The row itself stays (audit events keep pointing at it; nothing is scrubbed
 * yet, see docs/admin.md). From then on the user is NOT_FOUND. Never the last active admin.
 */
export async function deleteUser(
  deps: AdminDeps,
  audit: AuditScope,
  userId: string,
): Promise<void> {
  const id = requireUserId(userId);
  const revoked = await audit.transaction(async (tx) => {
    await lockAdminMembership(tx);
    const before = await getUserById(tx, id, { forUpdate: true });
    await assertNotLastActiveAdmin(tx, before);
    await updateUserStatus(tx, id, 'deleted');
    const revoked = await revokeSessions(tx, { userId: id }, 'admin_delete');
    await revokeOneTimeTokens(tx, id);
    audit.note({ details: { previous_status: before.status, revoked_sessions: revoked.length } });
    return revoked;
  });
  await markSessionsRevoked(deps, revoked, 'admin_delete');
}
