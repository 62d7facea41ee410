import type { CachedSession, SessionCache } from './SessionCache.ts';

/**
 * In-process SessionCache for the embedded single-instance mode (no REDIS_URL). Same semantics
 * as the Redis one, including expiry; entries are swept lazily on access and periodically.
 */
export function createMemorySessionCache(maxEntries = 100_000): SessionCache {
  const entries = new Map<string, { value: CachedSession; expiresAt: number }>();
  const put = (sid: string, value: CachedSession, ttlMs: number) => {
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
  return {
    async get(sessionId) {
      const e = entries.get(sessionId);
      if (!e) return null;
      if (e.expiresAt <= Date.now()) {
        entries.delete(sessionId);
        return null;
      }
      return e.value;
    },
    async fill(sessionId, value, ttlMs) {
      const e = entries.get(sessionId);
      if (e && e.expiresAt > Date.now()) return;
      put(sessionId, value, ttlMs);
    },
    async markRevoked(sessionIds, ttlMs) {
      for (const sid of sessionIds) put(sid, { state: 'revoked' }, ttlMs);
    },
    async forget(sessionIds) {
      for (const sid of sessionIds) entries.delete(sid);
    },
  };
}
