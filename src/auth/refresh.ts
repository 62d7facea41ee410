import { AppError, invalidArgument } from '../errors/AppError.ts';
import { insertAuditEvent } from '../storage/audit.ts';
import {
  findRefreshTokenByHashForUpdate,
  findRefreshTokenById,
  insertRefreshToken,
  revokeRefreshToken,
  updateRefreshTokenRotated,
} from '../storage/refreshTokens.ts';
import { findSessionById, revokeSessions, touchSession } from '../storage/sessions.ts';
import { findUserById } from '../storage/users.ts';
import type { AuthDeps, RequestInfo } from './AuthDeps.ts';
import {
  hashRefreshToken,
  type IssuedTokens,
  newRefreshToken,
  publishRevocations,
  refreshExpiry,
} from './issueSession.ts';

const invalid = () =>
  new AppError('INVALID_REFRESH_TOKEN', 'the refresh token is invalid or expired');

type Outcome =
  | { kind: 'ok'; tokens: IssuedTokens }
  | { kind: 'reuse'; revoked: string[] }
  | { kind: 'invalid' };

/**
 * Rotates a refresh token (single use). The presented token's row is locked for the whole
 * transaction, so concurrent refreshes of one token run one after another and never leave two live
 * successors. Presenting an already-rotated token is reuse: the session (the family) is revoked and
 * audited, unless it is a retry within the grace window whose successor is still unused; then the
 * unused successor is replaced by a new one, so the client that lost the response is not logged out.
 */
export async function refresh(
  deps: AuthDeps,
  refreshToken: string,
  info: RequestInfo,
): Promise<IssuedTokens> {
  if (refreshToken === '' || refreshToken.length > 200) {
    throw invalidArgument([{ field: 'refresh_token', description: 'a refresh token is required' }]);
  }
  const tokenHash = hashRefreshToken(refreshToken);
  await deps.limits.admitAccount('refresh', tokenHash.toString('base64url'), info.clientIp);
  const outcome = await deps.pool.transaction(async (tx): Promise<Outcome> => {
    const token = await findRefreshTokenByHashForUpdate(tx, tokenHash);
    if (!token || token.revoked_at !== null) return { kind: 'invalid' };
    const session = await findSessionById(tx, token.session_id);
    if (!session || session.revoked_at !== null) return { kind: 'invalid' };
    const now = Date.now();

    if (token.used_at !== null) {
      const successor =
        token.replaced_by_id === null ? null : await findRefreshTokenById(tx, token.replaced_by_id);
      const inGrace =
        now - token.used_at.getTime() <= deps.tokens.reuseGraceSec * 1000 &&
        successor !== null &&
        successor.used_at === null &&
        successor.revoked_at === null;
      if (!inGrace) {
        const revoked = await revokeSessions(
          tx,
          { userId: session.user_id, only: [session.id] },
          'refresh_token_reuse',
        );
        await insertAuditEvent(tx, {
          action: 'refresh_token_reuse',
          outcome: 'denied',
          subjectUserId: session.user_id,
          ...info,
          details: { session_id: session.id },
        });
        return { kind: 'reuse', revoked };
      }
      await revokeRefreshToken(tx, successor.id);
    }

    if (
      token.expires_at.getTime() <= now ||
      session.expires_at.getTime() <= now ||
      session.idle_expires_at.getTime() <= now
    ) {
      return { kind: 'invalid' };
    }
    const user = await findUserById(tx, session.user_id);
    if (user?.status !== 'active') return { kind: 'invalid' };

    const touched = await touchSession(tx, session.id, deps.tokens.sessionIdleSec);
    const next = newRefreshToken();
    const expiresAt = refreshExpiry(touched);
    const successor = await insertRefreshToken(tx, {
      sessionId: session.id,
      tokenHash: next.hash,
      parentId: token.id,
      expiresAt,
    });
    await updateRefreshTokenRotated(tx, token.id, successor.id);
    await insertAuditEvent(tx, {
      action: 'refresh',
      outcome: 'success',
      actorUserId: user.id,
      subjectUserId: user.id,
      ...info,
      details: { session_id: session.id, grace_retry: token.used_at !== null },
    });
    const access = await deps.keys.sign({
      userId: user.id,
      sessionId: session.id,
      roles: user.roles,
    });
    return {
      kind: 'ok',
      tokens: {
        accessToken: access.token,
        accessTokenExpiresAt: access.expiresAt,
        refreshToken: next.token,
        refreshTokenExpiresAt: expiresAt,
        sessionId: session.id,
      },
    };
  });
  if (outcome.kind === 'ok') return outcome.tokens;
  if (outcome.kind === 'reuse') {
    deps.log.warn({ sessionIds: outcome.revoked }, 'refresh token reuse detected: session revoked');
    deps.events.refreshReuse();
    await publishRevocations(deps, outcome.revoked, 'refresh_token_reuse');
  }
  throw invalid();
}
