import type { RefreshToken, Session } from '../domain/Session.ts';
import { AppError, invalidArgument } from '../errors/AppError.ts';
import type { TokenOrganization } from '../keys/createAccessTokens.ts';
import { markSessionsRevoked, type RevocationDeps } from '../sessions/updateSessionCache.ts';
import { recordAudit } from '../storage/audit.ts';
import { findRefreshTokenByHash, findRefreshTokenById } from '../storage/refreshTokens.ts';
import { lockRefreshTokenForRotation, rotateRefreshToken } from '../storage/rotation.ts';
import { clearSessionOrganization, findSessionById, revokeSessions } from '../storage/sessions.ts';
import { findUserById } from '../storage/users.ts';
import type { AdmitAccount, AuthDeps, RequestInfo } from './AuthDeps.ts';
import { findActiveMembership } from './activeOrganization.ts';
import {
  deriveSuccessorRefreshToken,
  hashRefreshToken,
  type IssuedTokens,
  type IssueTokensDeps,
  issueTokens,
} from './issueSession.ts';

type RefreshDeps = IssueTokensDeps &
  RevocationDeps &
  Pick<AuthDeps, 'pool' | 'refreshSuccessorKey' | 'tokens' | 'events' | 'log'>;

const invalid = () =>
  new AppError('INVALID_REFRESH_TOKEN', 'the refresh token is invalid or expired');

type Outcome =
  | {
      kind: 'ok';
      user: { id: string; roles: string[] };
      session: Session;
      refresh: { token: string; expiresAt: Date };
      organization: TokenOrganization | null;
    }
  | { kind: 'reuse'; revoked: string[] }
  | { kind: 'invalid' }
  | { kind: 'stale_successor'; sessionId: string };

/**
 * Rotates a refresh token (single use). The successor is derived from the presented token
 * (deriveSuccessorRefreshToken), so every refresh of one token within the grace window answers
 * with the same successor: concurrent calls, and a retry after a lost response, all get the one
 * token that works. The presented token's row is locked for the whole transaction, so the first
 * refresh stores the successor and advances the chain once; the later ones find it and repeat it
 * with a fresh access token. Presenting an already-rotated token after the window, or after its
 * successor has been used, is reuse: the session (the family) is revoked and audited. The new
 * access token keeps the session's organisation while the user is still a member of it and it
 * is active; otherwise it carries none and the session's organisation is cleared.
 */
export async function refresh(
  deps: RefreshDeps,
  refreshToken: string,
  info: RequestInfo,
  admitAccount: AdmitAccount,
): Promise<IssuedTokens> {
  if (refreshToken === '' || refreshToken.length > 200) {
    throw invalidArgument([{ field: 'refresh_token', description: 'a refresh token is required' }]);
  }
  const tokenHash = hashRefreshToken(refreshToken);
  await admitAccount(tokenHash.toString('base64url'));
  const next = deriveSuccessorRefreshToken(await deps.refreshSuccessorKey(), refreshToken);
  const outcome = await deps.pool.transaction(async (tx): Promise<Outcome> => {
    const locked = await lockRefreshTokenForRotation(tx, tokenHash);
    if (!locked || locked.token.revokedAt !== null) return { kind: 'invalid' };
    const { token } = locked;
    let { session, user } = locked;
    if (token.usedAt !== null) {
      // Rotated already, perhaps while this call waited for the lock: the session and user
      // joined to the row are then as they were before that. Read them as they are now.
      const current = await findSessionById(tx, token.sessionId);
      if (!current) return { kind: 'invalid' };
      session = current;
      user = (await findUserById(tx, session.userId))?.user ?? null;
    }
    if (session.revokedAt !== null) return { kind: 'invalid' };
    const now = Date.now();

    let repeated: RefreshToken | null = null;
    if (token.usedAt !== null) {
      const successor =
        token.replacedById === null ? null : await findRefreshTokenById(tx, token.replacedById);
      const inGrace =
        now - token.usedAt.getTime() <= deps.tokens.reuseGraceSec * 1000 &&
        successor !== null &&
        successor.usedAt === null &&
        successor.revokedAt === null;
      if (!inGrace) {
        const revoked = await revokeSessions(
          tx,
          { userId: session.userId, only: [session.id] },
          'refresh_token_reuse',
        );
        await recordAudit(tx, 'refresh_reuse_detected', {
          subject: session.userId,
          outcome: 'denied',
          request: info,
          details: { session_id: session.id },
        });
        return { kind: 'reuse', revoked };
      }
      // The stored successor is not the one this key derives: the key was rotated inside the
      // window. Refuse this repeat without revoking anything; the successor already handed out
      // keeps working.
      if ((await findRefreshTokenByHash(tx, next.hash))?.id !== successor.id) {
        return { kind: 'stale_successor', sessionId: session.id };
      }
      repeated = successor;
    }

    if (
      token.expiresAt.getTime() <= now ||
      session.expiresAt.getTime() <= now ||
      session.idleExpiresAt.getTime() <= now
    ) {
      return { kind: 'invalid' };
    }
    if (user?.status !== 'active') return { kind: 'invalid' };
    // The session keeps its organisation while the user is a member of it and it is active;
    // otherwise it acts in none from now on.
    const organizationId = session.organizationId;
    const organization =
      organizationId === null ? null : await findActiveMembership(tx, user.id, organizationId);
    const organizationCleared = organizationId !== null && organization === null;
    if (organizationCleared) await clearSessionOrganization(tx, session.id, organizationId);

    const expiresAt =
      repeated === null
        ? await rotateRefreshToken(tx, {
            sessionId: session.id,
            parentId: token.id,
            successorHash: next.hash,
            use: {
              idleTimeoutSec: deps.tokens.sessionIdleSec,
              ipAddress: info.clientIp,
              userAgent: info.userAgent,
            },
          })
        : repeated.expiresAt;
    await recordAudit(tx, 'refresh', {
      actor: user.id,
      request: info,
      details: {
        session_id: session.id,
        grace_retry: repeated !== null,
        organization_id: organizationId,
        organization_cleared: organizationCleared,
      },
    });
    return { kind: 'ok', user, session, refresh: { token: next.token, expiresAt }, organization };
  });
  // Signed after COMMIT, so the token row's lock and the pooled connection are not held while a
  // signature is made. Should signing fail, the rotation stands and a retry within the grace
  // window gets the same successor with a fresh access token.
  if (outcome.kind === 'ok') {
    return issueTokens(deps, outcome.user, outcome.session, outcome.refresh, outcome.organization);
  }
  if (outcome.kind === 'reuse') {
    deps.log.warn({ sessionIds: outcome.revoked }, 'refresh token reuse detected: session revoked');
    deps.events.refreshReuse();
    await markSessionsRevoked(deps, outcome.revoked, 'refresh_token_reuse');
  }
  if (outcome.kind === 'stale_successor') {
    deps.log.warn(
      { sessionId: outcome.sessionId },
      'repeated refresh refused: its successor was derived under an earlier key',
    );
  }
  throw invalid();
}
