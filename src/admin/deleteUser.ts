import type { RevocationDeps } from '../sessions/updateSessionCache.ts';
import type { AuditScope } from './AuditScope.ts';
import { changeUserStatus } from './changeUserStatus.ts';

/**
 * Soft-deletes a user: status 'deleted' and deleted_at are set, every session and unused
 * one-time token is revoked, and the partial unique indexes free the email and username for a
 * new account. The row itself stays (audit events keep pointing at it; nothing is scrubbed
 * yet, see docs/admin.md). From then on the user is NOT_FOUND. Never the last active admin.
 */
export async function deleteUser(
  deps: RevocationDeps,
  audit: AuditScope,
  userId: string,
): Promise<void> {
  await changeUserStatus(deps, audit, userId, 'deleted');
}
