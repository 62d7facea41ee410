import { LRUCache } from 'lru-cache';
import type { CachedSession, SessionCache } from './SessionCache.ts';
import { sessionEntryBytes } from './sessionEntryBytes.ts';

/**
 * A short-lived in-process layer in front of the shared (Redis) session cache, so repeated
 * validations of one session skip the network round trip. Revocations and role changes reach
 * it at once on the instance that made them, and within milliseconds on every other instance
 * through PostgreSQL change notifications (listenForSessionChanges); `ttlMs` only bounds how
 * long a missed notification could keep an entry (0 disables this layer). At most `maxBytes`
 * (estimated heap, sessionEntryBytes), the least recently used evicted first.
 */
export function createNearSessionCache(
  inner: SessionCache,
  ttlMs = 500,
  maxBytes = 16 * 1024 * 1024,
): SessionCache {
  if (ttlMs <= 0) return inner;
  // Entries expire `ttlMs` after they were remembered (lru-cache's own monotonic clock); reads
  // do not extend them.
  const near = new LRUCache<string, CachedSession>({
    maxSize: maxBytes,
    sizeCalculation: (value, sessionId) => sessionEntryBytes(sessionId, value),
    ttl: Math.ceil(ttlMs),
  });
  // Bumped by every invalidation: a lookup in flight across one must not keep what it read.
  let generation = 0;
  return {
    async get(sessionId) {
      const hit = near.get(sessionId);
      if (hit !== undefined) return hit;
      const before = generation;
      const value = await inner.get(sessionId);
      if (value !== null && generation === before) near.set(sessionId, value);
      return value;
    },
    async fill(sessionId, value, ttl, readAt) {
      await inner.fill(sessionId, value, ttl, readAt);
    },
    async replaceStale(sessionId, stale, fresh, ttl) {
      generation += 1;
      near.delete(sessionId);
      await inner.replaceStale(sessionId, stale, fresh, ttl);
    },
    async markRevoked(sessionIds, ttl) {
      generation += 1;
      for (const sid of sessionIds) near.set(sid, { state: 'revoked' });
      await inner.markRevoked(sessionIds, ttl);
    },
    async forget(sessionIds) {
      generation += 1;
      for (const sid of sessionIds) near.delete(sid);
      await inner.forget(sessionIds);
    },
    liveTrustedSince: () => inner.liveTrustedSince(),
    distrustLive() {
      generation += 1;
      near.clear();
      inner.distrustLive();
    },
  };
}
