import {
  type CachedSession,
  createTrustClock,
  FORGOTTEN_MARKER_MS,
  type SessionCache,
} from './SessionCache.ts';

type Entry = CachedSession | { state: 'forgotten'; at: number };

/**
 * In-process SessionCache for the embedded single-instance mode (no REDIS_URL). Same semantics
 * as the Redis one, including expiry; entries are swept lazily on access and periodically.
 */
export function createMemorySessionCache(maxEntries = 100_000): SessionCache {
  const entries = new Map<string, { value: Entry; expiresAt: number }>();
  const trust = createTrustClock();
  const put = (sid: string, value: Entry, ttlMs: number) => {
    if (entries.size >= maxEntries) {
      const now = Date.now();
      for (const [k, e] of entries) if (e.expiresAt <= now) entries.delete(k);
      // Still full: drop the oldest insertions; a miss only costs a PostgreSQL read.
      for (const k of entries.keys()) {
        if (entries.size < maxEntries) break;
        entries.delete(k);
      }
    }
    entries.set(sid, { value, expiresAt: Date.now() + ttlMs });
  };
  const current = (sid: string) => {
    const e = entries.get(sid);
    if (!e) return null;
    if (e.expiresAt <= Date.now()) {
      entries.delete(sid);
      return null;
    }
    return e.value;
  };
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
