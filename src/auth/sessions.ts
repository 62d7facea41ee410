import type { Session } from '../domain/Session.ts';
import { AppError, invalidArgument } from '../errors/AppError.ts';
import { keysetPage, readTimeIdCursor } from '../paging/createPageTokens.ts';
import { pageSize } from '../paging/pageSize.ts';
import { markSessionsRevoked, type RevocationDeps } from '../sessions/updateSessionCache.ts';
import { recordAudit } from '../storage/audit.ts';
import {
  findLiveSessionsPage,
  findSessionById,
  revokeSessions,
  type SessionCursor,
} from '../storage/sessions.ts';
import type { AuthDeps, RequestInfo } from './AuthDeps.ts';
import { isUuid, isViolation } from './normalize.ts';
import type { UserPrincipal } from './Principal.ts';

/** page_size and page_token of a session list (AIP-158). */
export interface SessionPageRequest {
  pageSize: number;
  pageToken: string;
}

/** What a session list needs: the sessions table and the page-token codec. */
export type SessionListDeps = Pick<AuthDeps, 'pool' | 'pageTokens'>;

/** What ending sessions needs: the sessions table, and publishing the revocations. */
export type EndSessionDeps = Pick<AuthDeps, 'pool'> & RevocationDeps;

/** One page of sessions and the token of the next one ('' on the last page). */
export interface SessionPage {
  sessions: readonly Session[];
  nextPageToken: string;
}

/**
 * One page of a user's usable sessions, most recently used first, by keyset: the page token
 * carries the last row's (last_used_at, id), signed together with the user it belongs to. Both
 * the user's own ListSessions and the admin's ListUserSessions read through here.
 */
export async function listLiveSessions(
  deps: SessionListDeps,
  userId: string,
  page: SessionPageRequest,
): Promise<SessionPage> {
  const limit = pageSize(page.pageSize);
  if (isViolation(limit)) throw invalidArgument([limit]);
  const filter = [userId];
  const cursor = await readTimeIdCursor(deps.pageTokens, 'sessions', filter, page.pageToken);
  const after: SessionCursor | null = cursor && { lastUsedAt: cursor.time, id: cursor.id };
  const rows = await findLiveSessionsPage(deps.pool, userId, after, limit + 1);
  const next = await keysetPage(deps.pageTokens, 'sessions', filter, rows, limit, (last) => [
    last.cursor.lastUsedAt,
    last.cursor.id,
  ]);
  return { sessions: next.page.map((e) => e.session), nextPageToken: next.nextPageToken };
}

/** The caller's usable sessions, most recently used first, one page at a time. */
export async function listSessions(
  deps: SessionListDeps,
  principal: UserPrincipal,
  page: SessionPageRequest,
): Promise<SessionPage> {
  return listLiveSessions(deps, principal.userId, page);
}

/**
 * Ends one session with its audit row in one transaction, then publishes the revocation.
 * `check` sees the session (null if unknown) first and may throw to refuse. Idempotent: an
 * already-ended session is neither revoked nor audited again.
 */
export async function endSession(
  deps: EndSessionDeps,
  sessionId: string,
  action: 'logout' | 'session_revoke',
  info: RequestInfo,
  check: (session: Session | null) => void = () => {},
): Promise<void> {
  const revoked = await deps.pool.transaction(async (tx) => {
    const session = await findSessionById(tx, sessionId);
    check(session);
    if (!session) return [];
    const ids = await revokeSessions(tx, { userId: session.userId, only: [sessionId] }, action);
    if (ids.length > 0) {
      await recordAudit(tx, action, {
        actor: session.userId,
        request: info,
        details: { session_id: sessionId },
      });
    }
    return ids;
  });
  await markSessionsRevoked(deps, revoked, action);
}

/** Revokes one of the caller's own sessions; any other id (someone else's, unknown) is NOT_FOUND. */
export async function revokeSession(
  deps: EndSessionDeps,
  principal: UserPrincipal,
  sessionId: string,
  info: RequestInfo,
): Promise<void> {
  if (!isUuid(sessionId)) {
    throw invalidArgument([{ field: 'session_id', description: 'must be a session id (UUID)' }]);
  }
  await endSession(deps, sessionId, 'session_revoke', info, (session) => {
    if (session?.userId !== principal.userId) {
      throw new AppError('SESSION_NOT_FOUND', 'no such session');
    }
  });
}

/** Revokes every session of the caller except the one making the call; returns how many. */
export async function revokeOtherSessions(
  deps: EndSessionDeps,
  principal: UserPrincipal,
  info: RequestInfo,
): Promise<number> {
  const revoked = await deps.pool.transaction(async (tx) => {
    const ids = await revokeSessions(
      tx,
      { userId: principal.userId, except: principal.sessionId },
      'user_revoke_others',
    );
    await recordAudit(tx, 'session_revoke_others', {
      actor: principal.userId,
      request: info,
      details: { revoked_count: ids.length },
    });
    return ids;
  });
  await markSessionsRevoked(deps, revoked, 'user_revoke_others');
  return revoked.length;
}
