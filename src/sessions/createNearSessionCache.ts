import type { CachedSession, SessionCache } from './SessionCache.ts';

/**
 * A short-lived in-process layer in front of the shared (Redis) session cache, so repeated
 * validations of one session skip the network round trip. Entries live `ttlMs` (well under the
 * 1 s revocation budget): a revocation made on another instance is seen within that time; one
 * made on this instance is seen at once. Misses and errors go to the inner cache unchanged.
 */
export function createNearSessionCache(
  inner: SessionCache,
  ttlMs = 500,
  maxEntries = 50_000,
): SessionCache {
  const near = new Map<string, { value: CachedSession; until: number }>();
  const remember = (sid: string, value: CachedSession) => {
    if (near.size >= maxEntries) {
      const oldest = near.keys().next().value;
      if (oldest !== undefined) near.delete(oldest);
    }
    near.set(sid, { value, until: Date.now() + ttlMs });
  };
  return {
    async get(sessionId) {
      const e = near.get(sessionId);
      if (e && e.until > Date.now()) return e.value;
      if (e) near.delete(sessionId);
      const value = await inner.get(sessionId);
      if (value !== null) remember(sessionId, value);
      return value;
    },
    async fill(sessionId, value, ttl) {
      await inner.fill(sessionId, value, ttl);
    },
    async markRevoked(sessionIds, ttl) {
      for (const sid of sessionIds) remember(sid, { state: 'revoked' });
      await inner.markRevoked(sessionIds, ttl);
    },
    async forget(sessionIds) {
      for (const sid of sessionIds) near.delete(sid);
      await inner.forget(sessionIds);
    },
  };
}
