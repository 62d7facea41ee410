import type { VerifiedAccessToken } from '../keys/createAccessTokens.ts';
import type { CachedSession } from '../sessions/SessionCache.ts';
import { findSessionLiveness } from '../storage/sessions.ts';
import type { AuthDeps } from './AuthDeps.ts';

// How long a "live" answer may be served from the cache. Revocations overwrite it at once; this
// only bounds staleness if publishing a revocation to the cache failed unnoticed.
const LIVE_CACHE_MS = 60_000;

/**
 * Verifies an access token and that its session is still live, with the user's CURRENT roles.
 * The common case is one cache read; a miss (or an unreachable cache) reads PostgreSQL, which
 * stays the source of truth, so flushing the cache revives nothing and loses nothing. A live
 * entry read before the cache last lost track of revocations is checked against PostgreSQL
 * again and replaced, so old cache data coming back revives nothing either.
 */
export async function validateAccessToken(
  deps: Pick<AuthDeps, 'keys' | 'sessionCache' | 'pool' | 'tokens' | 'log'>,
  token: string,
): Promise<VerifiedAccessToken | null> {
  const claims = await deps.keys.verify(token);
  if (claims === null) return null;
  const cache = deps.sessionCache;
  let cached: CachedSession | null | undefined;
  try {
    cached = await cache.get(claims.sessionId);
  } catch (err) {
    deps.log.debug({ err }, 'session cache unavailable; reading PostgreSQL');
    cached = undefined;
  }
  if (cached?.state === 'revoked') return null;
  if (cached?.state === 'live' && cached.readAt >= cache.liveTrustedSince()) {
    return cached.userId === claims.userId ? { ...claims, roles: cached.roles } : null;
  }
  const readAt = Date.now();
  const row = await findSessionLiveness(deps.pool, claims.sessionId);
  if (row === null || row.userId !== claims.userId) return null;
  const fresh: CachedSession = row.live
    ? { state: 'live', userId: row.userId, roles: row.roles, readAt }
    : { state: 'revoked' };
  const ttlMs = row.live
    ? Math.min(LIVE_CACHE_MS, row.expiresAt.getTime() - Date.now())
    : (deps.tokens.accessTtlSec + deps.tokens.clockSkewSec) * 1000;
  // Populate after a clean miss, or replace an untrusted entry; if the cache is down, skip it
  // rather than wait on it.
  if (cached === null) await cache.fill(claims.sessionId, fresh, ttlMs, readAt).catch(() => {});
  else if (cached !== undefined) {
    await cache.replaceStale(claims.sessionId, cached, fresh, ttlMs).catch(() => {});
  }
  return row.live ? { ...claims, roles: row.roles } : null;
}
