import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { AuthMethodReference } from '../domain/SecondFactor.ts';
import type { Session } from '../domain/Session.ts';
import type { User } from '../domain/User.ts';
import type { TokenOrganization } from '../keys/createAccessTokens.ts';
import type { Db } from '../storage/Db.ts';
import { insertRefreshToken } from '../storage/refreshTokens.ts';
import { insertSession } from '../storage/sessions.ts';
import type { AuthDeps, RequestInfo } from './AuthDeps.ts';

/** What the client gets back: an access token and the refresh token of its session. */
export interface IssuedTokens {
  accessToken: string;
  accessTokenExpiresAt: Date;
  refreshToken: string;
  refreshTokenExpiresAt: Date;
  sessionId: string;
}

/** A session as its tokens describe it: id, how and when the user authenticated. */
export type SessionAuthentication = Pick<Session, 'id' | 'amr' | 'authTime'>;

/** How a session opened by a password alone was authenticated. */
const PASSWORD_ONLY: readonly AuthMethodReference[] = ['pwd'];

/** What issueTokens needs: the key store that signs access tokens. */
export type IssueTokensDeps = Pick<AuthDeps, 'keys'>;

/** What issueSession needs: session lifetimes, the session metric, and issueTokens' needs. */
export type IssueSessionDeps = IssueTokensDeps & Pick<AuthDeps, 'tokens' | 'events'>;

const REFRESH_PREFIX = 'ghr_';

/** A session's first refresh token: 256 random bits, prefixed so secret scanners spot leaks. */
function newRefreshToken(): { token: string; hash: Buffer } {
  const token = `${REFRESH_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashRefreshToken(token) };
}

/**
 * The successor of a presented refresh token: HMAC-SHA256 (256 bits, same shape as a first token)
 * of the presented token itself under a server key. Every refresh of one token therefore yields
 * the same successor (concurrent calls, a retry after a lost response), and only its SHA-256 is
 * stored. The input is the token, not its stored hash: someone holding a copy of the database and
 * the key still cannot compute any live token, and someone holding an old token but not the key
 * cannot walk the chain forward past reuse detection.
 */
export function deriveSuccessorRefreshToken(
  key: Buffer,
  presented: string,
): { token: string; hash: Buffer } {
  const mac = createHmac('sha256', key)
    .update('gatehouse-refresh-successor\n')
    .update(presented)
    .digest();
  const token = `${REFRESH_PREFIX}${mac.toString('base64url')}`;
  return { token, hash: hashRefreshToken(token) };
}

/** Only this SHA-256 is stored; the token itself never is. */
export function hashRefreshToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** A refresh token lives until the session's idle or absolute deadline, whichever is first. */
export function refreshExpiry(session: Pick<Session, 'idleExpiresAt' | 'expiresAt'>): Date {
  return new Date(Math.min(session.idleExpiresAt.getTime(), session.expiresAt.getTime()));
}

/**
 * Opens a session for `user` inside the caller's transaction and issues its first tokens; with
 * `organization` (membership checked by the caller) the session acts in it. `amr` says how the
 * user authenticated (a password alone unless told otherwise); the session keeps it.
 */
export async function issueSession(
  tx: Db,
  deps: IssueSessionDeps,
  user: User,
  info: RequestInfo,
  organization: TokenOrganization | null = null,
  amr: readonly AuthMethodReference[] = PASSWORD_ONLY,
): Promise<{ session: Session; tokens: IssuedTokens }> {
  deps.events.sessionsCreated(1);
  const session = await insertSession(tx, {
    id: randomUUID(),
    userId: user.id,
    idleTimeoutSec: deps.tokens.sessionIdleSec,
    absoluteLifetimeSec: deps.tokens.sessionAbsoluteSec,
    ipAddress: info.clientIp,
    userAgent: info.userAgent,
    organizationId: organization?.id ?? null,
    amr,
  });
  const refresh = newRefreshToken();
  const expiresAt = refreshExpiry(session);
  await insertRefreshToken(tx, {
    sessionId: session.id,
    tokenHash: refresh.hash,
    parentId: null,
    expiresAt,
  });
  return {
    session,
    tokens: await issueTokens(
      deps,
      user,
      session,
      { token: refresh.token, expiresAt },
      organization,
    ),
  };
}

/** A new access token of a session alone (its refresh token unchanged), for its organisation. */
export interface IssuedAccessToken {
  accessToken: string;
  accessTokenExpiresAt: Date;
  /** The session's active organisation the token carries; null for none. */
  organization: TokenOrganization | null;
}

/**
 * A fresh access token for a session whose active organisation just changed
 * (SwitchOrganization, AcceptInvitation), with the user's current roles.
 */
export async function issueAccessToken(
  deps: IssueTokensDeps,
  user: { id: string; roles: readonly string[] },
  session: SessionAuthentication,
  organization: TokenOrganization | null,
): Promise<IssuedAccessToken> {
  const access = await deps.keys.sign({
    userId: user.id,
    sessionId: session.id,
    roles: user.roles,
    organization: organization === null ? null : { id: organization.id, roles: organization.roles },
    amr: session.amr,
    authTime: session.authTime,
  });
  return { accessToken: access.token, accessTokenExpiresAt: access.expiresAt, organization };
}

/**
 * What a client gets for a session, at login and at every refresh: a new access token with the
 * user's current roles (and the session's organisation and the membership's roles, if it has
 * one), beside the session's refresh token.
 */
export async function issueTokens(
  deps: IssueTokensDeps,
  user: { id: string; roles: readonly string[] },
  session: SessionAuthentication,
  refresh: { token: string; expiresAt: Date },
  organization: TokenOrganization | null,
): Promise<IssuedTokens> {
  const access = await issueAccessToken(deps, user, session, organization);
  return {
    accessToken: access.accessToken,
    accessTokenExpiresAt: access.accessTokenExpiresAt,
    refreshToken: refresh.token,
    refreshTokenExpiresAt: refresh.expiresAt,
    sessionId: session.id,
  };
}
