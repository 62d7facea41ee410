import { LRUCache } from 'lru-cache';
import {
  type CachedSession,
  createTrustClock,
  FORGOTTEN_MARKER_MS,
  type SessionCache,
} from './SessionCache.ts';
import { sessionEntryBytes } from './sessionEntryBytes.ts';

type Entry = CachedSession | { state: 'forgotten'; at: number };

/**
 * In-process SessionCache for the embedded single-instance mode (no REDIS_URL). Same semantics
 * as the Redis one, including expiry; at most `maxBytes` (estimated heap, sessionEntryBytes),
 * the least recently used evicted first (a miss only costs a PostgreSQL read).
 */
export function createMemorySessionCache(maxBytes = 64 * 1024 * 1024): SessionCache {
  // lru-cache times each entry's ttl on its own monotonic clock (performance.now); the epoch-ms
  // instants this cache compares (readAt, a forget's `at`, liveTrustedSince) are kept inside
  // the values, on Date.now(), exactly as before.
  const entries = new LRUCache<string, Entry>({
    maxSize: maxBytes,
    sizeCalculation: (value, sessionId) => sessionEntryBytes(sessionId, value),
  });
  const trust = createTrustClock();
  const put = (sid: string, value: Entry, ttlMs: number) => {
    // lru-cache reads a ttl of 0 as "never expires" and keeps ttls as integers; an entry whose
    // ttl is already over is as good as gone.
    if (ttlMs > 0) entries.set(sid, value, { ttl: Math.ceil(ttlMs) });
    else entries.delete(sid);
  };
  const current = (sid: string) => entries.get(sid) ?? null;
  return {
    async get(sessionId) {
      const value = current(sessionId);
      return value?.state === 'forgotten' ? null : value;
    },
    async fill(sessionId, value, ttlMs, readAt) {
      const existing = current(sessionId);
      if (existing === null || (existing.state === 'forgotten' && existing.at < readAt)) {
        put(sessionId, value, ttlMs);
      }
    },
    async replaceStale(sessionId, stale, fresh, ttlMs) {
      if (current(sessionId) === stale) put(sessionId, fresh, ttlMs);
    },
    async markRevoked(sessionIds, ttlMs) {
      for (const sid of sessionIds) put(sid, { state: 'revoked' }, ttlMs);
    },
    async forget(sessionIds) {
      const at = Date.now();
      for (const sid of sessionIds) put(sid, { state: 'forgotten', at }, FORGOTTEN_MARKER_MS);
    },
    liveTrustedSince: trust.since,
    distrustLive: trust.distrust,
  };
}
