import type { Cluster, Redis } from 'ioredis';
import { watchSlotMaster } from '../redis/watchSlotMaster.ts';
import {
  type CachedSession,
  createTrustClock,
  FORGOTTEN_MARKER_MS,
  type SessionCache,
} from './SessionCache.ts';

const REVOKED = 'r';
const FORGOTTEN = 'f:';

/**
 * SET key value PX ttl, unless the key holds an entry, or the marker `f:<ms>` of a forget made
 * at or after the moment the read being stored began (ARGV[3], epoch ms).
 */
const FILL = `
local current = redis.call('GET', KEYS[1])
if current and (string.sub(current, 1, 2) ~= 'f:' or tonumber(string.sub(current, 3)) >= tonumber(ARGV[3])) then
  return false
end
return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])`;

/** SET key fresh PX ttl, only if the key still holds exactly the stale value. */
const REPLACE_IF_UNCHANGED = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return false`;

interface SessionCommands {
  gatehouseSessionFill(key: string, value: string, ttlMs: number, readAt: number): Promise<unknown>;
  gatehouseSessionReplace(
    key: string,
    stale: string,
    fresh: string,
    ttlMs: number,
  ): Promise<unknown>;
}

/**
 * SessionCache in Redis: one string key per session, `r` for revoked, `f:<ms>` for forgotten
 * then, or a compact JSON record `[userId, roles, readAt]`. Entries written before readAt
 * existed parse with readAt 0, so they are never trusted without a fresh PostgreSQL read.
 *
 * Every command touches one key, so it works unchanged on Redis Cluster: no hash tag is needed,
 * and sessions spread over all masters. A read answered by a master other than the one the slot
 * table named when it was sent (a failover ioredis learnt of through MOVED) distrusts live
 * entries first: the promoted replica may have missed a revocation.
 */
export function createRedisSessionCache(redis: Redis | Cluster, keyPrefix: string): SessionCache {
  const key = (sid: string) => `${keyPrefix}sess:${sid}`;
  const trust = createTrustClock();
  // The exact stored text of each value `get` returned, so replaceStale compares what is stored.
  const rawOf = new WeakMap<CachedSession, string>();
  const encode = (value: CachedSession) =>
    value.state === 'revoked' ? REVOKED : JSON.stringify([value.userId, value.roles, value.readAt]);
  if (!('gatehouseSessionFill' in redis)) {
    redis.defineCommand('gatehouseSessionFill', { numberOfKeys: 1, lua: FILL });
    redis.defineCommand('gatehouseSessionReplace', { numberOfKeys: 1, lua: REPLACE_IF_UNCHANGED });
  }
  const commands = redis as unknown as SessionCommands;
  const ttl = (ms: number) => Math.max(1, Math.ceil(ms));
  return {
    async get(sessionId) {
      const masterChanged = watchSlotMaster(redis, key(sessionId));
      const raw = await redis.get(key(sessionId));
      if (masterChanged()) trust.distrust();
      if (raw === null || raw.startsWith(FORGOTTEN)) return null;
      let value: CachedSession;
      if (raw === REVOKED) value = { state: 'revoked' };
      else {
        const [userId, roles, readAt] = JSON.parse(raw) as [string, string[], number?];
        value = { state: 'live', userId, roles, readAt: readAt ?? 0 };
      }
      rawOf.set(value, raw);
      return value;
    },
    async fill(sessionId, value, ttlMs, readAt) {
      await commands.gatehouseSessionFill(key(sessionId), encode(value), ttl(ttlMs), readAt);
    },
    async replaceStale(sessionId, stale, fresh, ttlMs) {
      await commands.gatehouseSessionReplace(
        key(sessionId),
        rawOf.get(stale) ?? encode(stale),
        encode(fresh),
        ttl(ttlMs),
      );
    },
    // One SET per session, not a MULTI: the keys of many sessions lie in many slots (a cluster
    // refuses a cross-slot MULTI, and an ioredis Cluster pipeline must stay on one node). Auto
    // pipelining still sends them in one round trip per node. Nothing needs them atomic: each
    // marker stands alone, and a partial failure rejects, so the caller distrusts live entries.
    async markRevoked(sessionIds, ttlMs) {
      const px = ttl(ttlMs);
      await Promise.all(sessionIds.map((sid) => redis.set(key(sid), REVOKED, 'PX', px)));
    },
    async forget(sessionIds) {
      const marker = `${FORGOTTEN}${Date.now()}`;
      await Promise.all(
        sessionIds.map((sid) => redis.set(key(sid), marker, 'PX', FORGOTTEN_MARKER_MS)),
      );
    },
    liveTrustedSince: trust.since,
    distrustLive: trust.distrust,
  };
}
