import type { VerifiedAccessToken } from '../keys/createKeyStore.ts';
import { findSessionLiveness } from '../storage/sessions.ts';
import type { AuthDeps } from './AuthDeps.ts';

// How long a "live" answer may be served from the cache. Revocations overwrite it at once; this
// only bounds staleness if publishing a revocation to the cache failed.
const LIVE_CACHE_MS = 60_000;

/**
 * Verifies an access token and that its session is still live, with the user's CURRENT roles.
 * The common case is one cache read; a miss (or an unreachable cache) reads PostgreSQL, which
 * stays the source of truth, so flushing the cache revives nothing and loses nothing.
 */
export async function validateAccessToken(
  deps: AuthDeps,
  token: string,
): Promise<VerifiedAccessToken | null> {
  const claims = await deps.keys.verify(token);
  if (claims === null) return null;
  let cached: Awaited<ReturnType<typeof deps.sessionCache.get>> | undefined;
  try {
    cached = await deps.sessionCache.get(claims.sessionId);
  } catch (err) {
    deps.log.debug({ err }, 'session cache unavailable; reading PostgreSQL');
    cached = undefined;
  }
  if (cached?.state === 'revoked') return null;
  if (cached?.state === 'live') {
    return cached.userId === claims.userId ? { ...claims, roles: cached.roles } : null;
  }
  const row = await findSessionLiveness(deps.pool, claims.sessionId);
  if (row === null || row.user_id !== claims.userId) return null;
  if (cached === null) {
    // Populate only after a clean miss; if the cache is down, skip it rather than wait on it.
    await deps.sessionCache
      .fill(
        claims.sessionId,
        row.live ? { state: 'live', userId: row.user_id, roles: row.roles } : { state: 'revoked' },
        row.live
          ? Math.min(LIVE_CACHE_MS, row.expires_at.getTime() - Date.now())
          : (deps.tokens.accessTtlSec + deps.tokens.clockSkewSec) * 1000,
      )
      .catch(() => {});
  }
  return row.live ? { ...claims, roles: row.roles } : null;
}
