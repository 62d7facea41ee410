import {
  listLiveSessions,
  type SessionListDeps,
  type SessionPage,
  type SessionPageRequest,
} from '../auth/sessions.ts';
import { markSessionsRevoked, type RevocationDeps } from '../sessions/updateSessionCache.ts';
import { revokeSessions } from '../storage/sessions.ts';
import { getUserById } from '../storage/users.ts';
import type { AuditScope } from './AuditScope.ts';
import { requireUserId } from './requireUserId.ts';

/** One page of a live user's live sessions, most recently used first. */
export async function listUserSessions(
  deps: SessionListDeps,
  userId: string,
  page: SessionPageRequest,
): Promise<SessionPage> {
  const id = requireUserId(userId);
  await getUserById(deps.pool, id);
  return listLiveSessions(deps, id, page);
}

/** Revokes every live session of a user (the caller's own too, if it targets itself). */
export async function revokeUserSessions(
  deps: RevocationDeps,
  audit: AuditScope,
  userId: string,
): Promise<number> {
  const id = requireUserId(userId);
  const revoked = await audit.transaction(async (tx) => {
    await getUserById(tx, id);
    const revoked = await revokeSessions(tx, { userId: id }, 'admin_revoke');
    audit.note({ details: { revoked_count: revoked.length } });
    return revoked;
  });
  await markSessionsRevoked(deps, revoked, 'admin_revoke');
  return revoked.length;
}
