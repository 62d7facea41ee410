import { publishRevocations } from '../auth/issueSession.ts';
import { getUserById } from '../storage/adminUsers.ts';
import { findLiveSessionsByUser, revokeSessions, type SessionRow } from '../storage/sessions.ts';
import type { AdminDeps } from './AdminDeps.ts';
import type { AdminCall } from './createAdminCallRunner.ts';
import { requireUserId } from './requireUserId.ts';

/** A live user's live sessions, most recently used first. */
export async function listUserSessions(
  deps: AdminDeps,
  userId: string,
): Promise<readonly SessionRow[]> {
  const id = requireUserId(userId);
  await getUserById(deps.pool, id);
  const sessions = await findLiveSessionsByUser(deps.pool, id);
  return [...sessions].sort(
    (a, b) => b.last_used_at.getTime() - a.last_used_at.getTime() || a.id.localeCompare(b.id),
  );
}

/** Revokes every live session of a user (the caller's own too, if it targets itself). */
export async function revokeUserSessions(
  deps: AdminDeps,
  call: AdminCall,
  userId: string,
): Promise<number> {
  const id = requireUserId(userId);
  const revoked = await call.transaction(async (tx) => {
    await getUserById(tx, id);
    const revoked = await revokeSessions(tx, { userId: id }, 'admin_revoke');
    call.note({ details: { revoked_count: revoked.length } });
    return revoked;
  });
  await publishRevocations(deps, revoked, 'admin_revoke');
  return revoked.length;
}
