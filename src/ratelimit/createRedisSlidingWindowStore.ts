/**
 * The sliding-window store on Redis: one Lua script per operation, so every instance sharing
 * the Redis spends one budget per key, atomically.
 *
 * Algorithm: two-bucket weighted counter (applySlidingWindow.ts; SLIDING_WINDOW_LUA below mirrors
 * it), not a sorted-set log. Measured here (Redis 7.0, 2 vCPU, 64 keys, one point per call):
 *   memory per key (MEMORY USAGE): counter 120 B whatever `points` is; log 200 B at 10 points,
 *   1.35 KB at 100, 92 KB at 1000 (past 128 entries the zset leaves listpack for a skiplist),
 *   plus a 72 B sequence key for unique members;
 *   speed: both 34-44k calls/s from Node with 64 in flight (client-bound, run-to-run noise
 *   larger than the gap), Redis time per call 26-33 us counter vs 23-35 us log.
 * Speed is a wash; memory decides. The log is exact but costs O(points) per key, and an auth
 * service is keyed by IP and account, i.e. by millions of keys during an attack; the counter is
 * O(1) per key whatever the limit.
 * What the approximation costs: it assumes the previous window's points were spread evenly, so
 * a burst at the very start of a window is remembered a little too long (msBeforeNext can reach
 * window * (1 + 1/points)); and a client that spends everything at the end of one window, then
 * exactly what ages out, gets close to 2 * points in one window-long span, though at an even
 * rate. It never gets more than `points` per aligned window, and never a double burst at the
 * edge: right after the boundary only what has aged out is free.
 *
 * A rejected consume is not counted: `points` per window is what a client gets however fast it
 * retries, and msBeforeNext tells when a retry succeeds.
 *
 * Clock: Redis server TIME by default, so every app instance shares one clock per key and
 * instance clock skew cannot stretch or shrink windows. Tests may pass `now` instead; all
 * stores on the same keys must then use that clock.
 *
 * Key: `<keyPrefix>:{<key>}:w` (the window counts), a hash that always carries a PEXPIRE; the
 * client key is the hash tag, so the script is valid on Redis Cluster.
 *
 * Why not rate-limiter-flexible's RateLimiterRedis with its `customIncrTtlLuaScript` (checked
 * against 11.4's sources): the script gets one key, `<keyPrefix>:<key>`, and ARGV (points,
 * seconds, limit, duration) only, so it cannot take a test clock (the contract could not run on
 * Redis without waiting on real time) and cannot keep the key above without touching an
 * undeclared key; the library's own get(), set(), block() and blockDuration GET/SET that same key
 * as a plain counter, clobbering the window; and a failing Redis is reported to nobody but the
 * insurance limiter, so the fallback could not be logged or shown in health. The store base
 * class that could host the script is not exported at runtime (reaching it meant loading a file
 * from the package's lib/). So the script runs through ioredis' defineCommand, and the library
 * has no part left here: see createSlidingWindowLimiter.ts.
 */
import type { Cluster, Redis } from 'ioredis';
import type { SlidingWindowReply, SlidingWindowRequest } from './applySlidingWindow.ts';
import type { SlidingWindowStore } from './SlidingWindowStore.ts';

/** Where the store keeps its keys and how it talks to Redis. */
export interface RedisSlidingWindowStoreOptions {
  /** Prefix of every key, e.g. `gatehouse:rl:login`. */
  keyPrefix: string;
  /**
   * Fail at once while the client is not `ready` (so the insurance answers instead of a
   * command waiting on a connection). Default true.
   */
  rejectIfNotReady?: boolean;
  /** Clock in ms passed to the script instead of Redis TIME; for tests. */
  now?: () => number;
}

/** The Redis store, with what operations and the fallback need to know about it. */
export interface RedisSlidingWindowStore extends SlidingWindowStore {
  /** The Redis key holding the counts of `key` (for operations and tests). */
  keyOf(key: string): string;
  /** The client is connected and ready for commands. */
  readonly ready: boolean;
}

type ScriptReply = [consumed: number, msBeforeNext: number] | null;

interface SlidingWindowCommand {
  gatehouseSlidingWindow(
    windowKey: string,
    operation: SlidingWindowRequest['operation'],
    points: string,
    windowMs: string,
    limit: string,
    now: string,
  ): Promise<ScriptReply>;
}

/**
 * ARGV: operation, points, windowMs, limit, now ('' = Redis TIME). Returns {consumed,
 * msBeforeNext}, or nil from get on an unknown key. Stored numbers are written with %.17g so
 * they round-trip exactly and Lua and TS keep identical arithmetic.
 */
export const SLIDING_WINDOW_LUA = `
local operation = ARGV[1]
local points = tonumber(ARGV[2])
local windowMs = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local now = tonumber(ARGV[5])
if now == nil then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local EPSILON = 1e-9
if operation == 'consume' and points < 0 then operation = 'add' end

local function fmt(n) return string.format('%.17g', n) end
local function wholePoints(p) return math.ceil(p - EPSILON) end
local function previousWeight(start)
  local weight = 1 - (now - start) / windowMs
  if weight > 1 then return 1 end
  if weight < 0 then return 0 end
  return weight
end
local function msUntilEmpty(start, prev, curr, weight)
  if curr > 0 then return math.ceil(start + 2 * windowMs - now) end
  if prev * weight > 0 then return math.ceil(start + windowMs - now) end
  return 0
end
local function msUntilAtMost(start, prev, curr, weight, target)
  if target < 0 then return msUntilEmpty(start, prev, curr, weight) end
  if prev * weight + curr <= target + EPSILON then return 0 end
  local at
  if curr <= target then
    at = start + windowMs * (1 - (target - curr) / prev)
  else
    at = start + 2 * windowMs - (windowMs * target) / curr
  end
  return math.max(math.ceil(at - now), 1)
end

local stored = redis.call('HMGET', KEYS[1], 's', 'p', 'c', 'e')
local storedStart = tonumber(stored[1])
local storedExpiresAt = tonumber(stored[4])
local live = storedStart ~= nil and storedExpiresAt ~= nil and storedExpiresAt > now
if operation == 'get' and not live then return nil end

local current = now - (now % windowMs)
local start, prev, curr
if not live or current - storedStart >= 2 * windowMs then
  start, prev, curr = current, 0, 0
elseif current > storedStart then
  start, prev, curr = current, tonumber(stored[3]), 0
else
  start, prev, curr = storedStart, tonumber(stored[2]), tonumber(stored[3])
end

local weight = previousWeight(start)
local used = prev * weight + curr

if operation == 'consume' and used + points > limit + EPSILON then
  return {wholePoints(used + points), msUntilAtMost(start, prev, curr, weight, limit - points)}
end

if operation == 'consume' or (operation == 'add' and points >= 0) then
  curr = curr + points
elseif operation == 'add' then
  local take = math.min(curr, -points)
  curr = curr - take
  local rest = -points - take
  if rest > 0 and weight > 0 then prev = math.max(prev - rest / weight, 0) end
end

local consumed = wholePoints(prev * weight + curr)
local msBeforeNext
if consumed > limit - 1 then
  msBeforeNext = msUntilAtMost(start, prev, curr, weight, limit - 1)
else
  msBeforeNext = msUntilEmpty(start, prev, curr, weight)
end

if operation == 'get' then return {consumed, msBeforeNext} end

if curr <= 0 and prev * weight <= 0 then
  redis.call('DEL', KEYS[1])
  return {consumed, msBeforeNext}
end
local expiresAt
if curr > 0 then expiresAt = start + 2 * windowMs else expiresAt = start + windowMs end
redis.call('HSET', KEYS[1], 's', fmt(start), 'p', fmt(prev), 'c', fmt(curr), 'e', fmt(expiresAt))
redis.call('PEXPIRE', KEYS[1], fmt(math.max(expiresAt - now, 1)))
return {consumed, msBeforeNext}
`;

/**
 * `<keyPrefix>:{<key>}:w`: the store's prefix stays in front (so every key matches the
 * configured Redis prefix, for ACLs and operations) and the client key is the hash tag. `}` (and
 * `%`, to stay injective) are escaped: Redis takes the tag up to the first `}`.
 */
function windowKey(keyPrefix: string, key: string): string {
  return `${keyPrefix}:{${key.replaceAll('%', '%25').replaceAll('}', '%7D')}}:w`;
}

/**
 * The sliding-window store on `client`. The client should fail fast when Redis is down
 * (enableOfflineQueue false, low maxRetriesPerRequest, commandTimeout; see createRedis.ts) and
 * must not use lazyConnect, since a not-ready client is never sent commands.
 */
export function createRedisSlidingWindowStore(
  client: Redis | Cluster,
  options: RedisSlidingWindowStoreOptions,
): RedisSlidingWindowStore {
  const { keyPrefix, now } = options;
  const rejectIfNotReady = options.rejectIfNotReady ?? true;
  client.defineCommand('gatehouseSlidingWindow', { numberOfKeys: 1, lua: SLIDING_WINDOW_LUA });
  const command = client as unknown as SlidingWindowCommand;

  return {
    keyOf: (key) => windowKey(keyPrefix, key),
    get ready() {
      return client.status === 'ready';
    },
    async apply(key: string, request: SlidingWindowRequest): Promise<SlidingWindowReply | null> {
      if (rejectIfNotReady && client.status !== 'ready') {
        throw new Error(`Redis connection is not ready (${client.status})`);
      }
      const reply = await command.gatehouseSlidingWindow(
        windowKey(keyPrefix, key),
        request.operation,
        String(request.points),
        String(request.windowMs),
        String(request.limit),
        now === undefined ? '' : String(Math.floor(now())),
      );
      return reply === null ? null : { consumed: reply[0], msBeforeNext: reply[1] };
    },
  };
}
