import type { Redis } from 'ioredis';
import type { SessionCache } from './SessionCache.ts';

const REVOKED = 'r';

/** SessionCache in Redis: one string key per session, `r` for revoked or a compact JSON record. */
export function createRedisSessionCache(redis: Redis, keyPrefix: string): SessionCache {
  const key = (sid: string) => `${keyPrefix}sess:${sid}`;
  return {
    async get(sessionId) {
      const raw = await redis.get(key(sessionId));
      if (raw === null) return null;
      if (raw === REVOKED) return { state: 'revoked' };
      const [userId, roles] = JSON.parse(raw) as [string, string[]];
      return { state: 'live', userId, roles };
    },
    async fill(sessionId, value, ttlMs) {
      const raw = value.state === 'revoked' ? REVOKED : JSON.stringify([value.userId, value.roles]);
      await redis.set(key(sessionId), raw, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
    },
    async markRevoked(sessionIds, ttlMs) {
      if (sessionIds.length === 0) return;
      const multi = redis.multi();
      for (const sid of sessionIds)
        multi.set(key(sid), REVOKED, 'PX', Math.max(1, Math.ceil(ttlMs)));
      await multi.exec();
    },
    async forget(sessionIds) {
      if (sessionIds.length === 0) return;
      await redis.del(...sessionIds.map(key));
    },
  };
}
