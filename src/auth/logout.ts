import { AppError } from '../errors/AppError.ts';
import { findRefreshTokenByHash } from '../storage/refreshTokens.ts';
import type { AuthDeps, RequestInfo } from './AuthDeps.ts';
import { hashRefreshToken } from './issueSession.ts';
import { type EndSessionDeps, endSession } from './sessions.ts';

/**
 * Ends one session: the refresh token's, or else the bearer token's. Idempotent: an unknown or
 * already-ended session is OK. A correctly signed, unexpired bearer token is enough even when its
 * session has ended, so a retried Logout does not fail.
 */
export async function logout(
  deps: EndSessionDeps & Pick<AuthDeps, 'keys'>,
  input: { refreshToken?: string | undefined; bearerToken?: string | undefined },
  info: RequestInfo,
): Promise<void> {
  let sessionId: string | undefined;
  if (input.refreshToken !== undefined && input.refreshToken !== '') {
    if (input.refreshToken.length > 200) return;
    sessionId = (await findRefreshTokenByHash(deps.pool, hashRefreshToken(input.refreshToken)))
      ?.sessionId;
    if (sessionId === undefined) return;
  } else {
    const claims =
      input.bearerToken === undefined ? null : await deps.keys.verify(input.bearerToken);
    if (claims === null) {
      throw new AppError(
        'INVALID_ACCESS_TOKEN',
        'send a refresh token or a valid access token to log out',
      );
    }
    sessionId = claims.sessionId;
  }
  await endSession(deps, sessionId, 'logout', info);
}
