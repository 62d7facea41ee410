/**
 * The sliding-window limiter on Redis: rate-limiter-flexible's RateLimiterRedis running our
 * two-bucket script as its custom increment script, so every instance sharing the Redis spends
 * one budget per key, atomically.
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
 * A refused consume is not counted: `points` per window is what a client gets however fast it
 * retries, and msBeforeNext tells when a retry succeeds.
 *
 * Why a custom increment script: rate-limiter-flexible has fixed windows only; its
 * `customIncrTtlLuaScript` option (public API) replaces the counter it runs on every consume and
 * reward, and keeps the rest: the key naming, the ready check, the points/duration validation and
 * RateLimiterRes (a consume whose reply counts more than `points` is refused). What the library
 * would otherwise do to the key is left out on purpose:
 * - only consume and reward are called: its get(), set(), block() and blockDuration treat the key
 *   as a plain counter, and the window is a hash. blockDuration, execEvenly, the in-memory block
 *   and insuranceLimiter stay off;
 * - no insuranceLimiter: it would be a fixed-window RateLimiterMemory and tells nobody that it
 *   answers. A Redis error reaches our wrapper instead, and createFallbackSlidingWindowLimiter.ts
 *   answers from the in-process sliding window, logged and shown in health.
 *
 * Clock: Redis server TIME, so every app instance shares one clock per key and instance clock
 * skew cannot stretch or shrink windows. The script takes an optional `now` after the library's
 * four arguments, which the library never passes; tests evaluate the same script text with a
 * fake clock to prove the window math on Redis without waiting on time.
 *
 * Key: `<keyPrefix>:{<key>}:w` (the window counts), a hash that always carries a PEXPIRE; the
 * client key is the hash tag, so the script is valid on Redis Cluster. A key `<tag>|<rest>` is
 * `<keyPrefix>:{<tag>}|<rest>:w`: windows of one subject share a slot, and
 * createRedisSlidingWindows spends several of them in one script (SLIDING_WINDOWS_LUA, the same
 * window function).
 *
 * RateLimiterRedis registers its script on the client under one command name (`rlflxIncr`), the
 * last one defined winning: every RateLimiterRedis on a client given here must run this script.
 */
import type { Cluster, Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type {
  Decision,
  SlidingWindowLimit,
  SlidingWindowLimiter,
} from './createSlidingWindowLimiter.ts';

/** Where the limiter keeps its keys and how it talks to Redis. */
export interface RedisSlidingWindowLimiterOptions {
  /** Prefix of every key, e.g. `gatehouse:rl:login`. */
  keyPrefix: string;
  /**
   * Fail at once while the client is not `ready` (so the fallback answers instead of a command
   * waiting on a connection): the library's rejectIfRedisNotReady. Default true.
   */
  rejectIfNotReady?: boolean;
}

/** The Redis limiter, with what operations and the fallback need to know about it. */
export interface RedisSlidingWindowLimiter extends SlidingWindowLimiter {
  /** The Redis key holding the counts of `key` (for operations and tests). */
  keyOf(key: string): string;
  /** The client is connected and ready for commands. */
  readonly ready: boolean;
}

/** The window of one key (applySlidingWindow.ts in Lua), shared by the two scripts below. */
const SLIDING_WINDOW_FUNCTION_LUA = `
local EPSILON = 1e-9
local function fmt(n) return string.format('%.17g', n) end
local function wholePoints(p) return math.ceil(p - EPSILON) end

-- One key's window at \`now\` (ms). operation: consume, add, get, or check (what consume would
-- refuse, without writing: the refusal's reply, or false when the points fit). Returns the reply
-- and the key's stored fields, which a later call on the same key in the same script may pass
-- back as \`stored\` instead of reading them again.
local function slidingWindow(key, points, limit, windowMs, now, operation, stored)
  if operation == 'consume' and points < 0 then operation = 'add' end

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

  stored = stored or redis.call('HMGET', key, 's', 'p', 'c', 'e')
  local storedStart = tonumber(stored[1])
  local storedExpiresAt = tonumber(stored[4])
  local live = storedStart ~= nil and storedExpiresAt ~= nil and storedExpiresAt > now
  if operation == 'get' and not live then return nil, stored end

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

  if (operation == 'consume' or operation == 'check') and used + points > limit + EPSILON then
    return {wholePoints(used + points), msUntilAtMost(start, prev, curr, weight, limit - points)}, stored
  end
  if operation == 'check' then return false, stored end

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
    redis.call('DEL', key)
    return {consumed, msBeforeNext}
  end
  local expiresAt
  if curr > 0 then expiresAt = start + 2 * windowMs else expiresAt = start + windowMs end
  redis.call('HSET', key, 's', fmt(start), 'p', fmt(prev), 'c', fmt(curr), 'e', fmt(expiresAt))
  redis.call('PEXPIRE', key, fmt(math.max(expiresAt - now, 1)))
  return {consumed, msBeforeNext}
end

local function redisNow()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
`;

/**
 * rate-limiter-flexible's custom increment script: KEYS[1] = `<keyPrefix>:<key>`; ARGV = points
 * (negative from reward: a refund), the window in whole seconds (the library's TTL hint; unused,
 * the expiry is set to the ms below), limit (the library's `points`), the window in seconds (its
 * `duration`). Optional, never passed by the library: ARGV[5] now in ms ('' = Redis TIME) and
 * ARGV[6] the operation (consume by default; add counts unconditionally, get only reads), for
 * tests. Returns {consumed, msBeforeNext} (applySlidingWindow's reply), or nil from get on an
 * unknown key. Stored numbers are written with %.17g so they round-trip exactly and Lua and TS
 * keep identical arithmetic.
 */
export const SLIDING_WINDOW_LUA = `${SLIDING_WINDOW_FUNCTION_LUA}
local now = tonumber(ARGV[5])
if now == nil then now = redisNow() end
-- The reply alone: slidingWindow also returns the fields it read.
local reply = slidingWindow(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[3]),
  math.ceil(tonumber(ARGV[4]) * 1000), now, ARGV[6] or 'consume')
return reply
`;

/**
 * One point from each of several windows, all or nothing, in one script (one round trip, and
 * no moment at which a refused call holds points that other calls could be refused for).
 * KEYS = the windows' keys (distinct), which must share one hash tag on Redis Cluster.
 * ARGV[1] = now in ms ('' = Redis TIME; tests pass a clock), then per key its limit and its
 * window in ms. Returns
 * {refused, consumed1, msBeforeNext1, consumed2, ...}: refused = 0 and every point counted, with
 * each window's reply; or refused = 1, nothing counted, and for each window that refuses its
 * refusal's reply, {0, 0} for each that would have fitted.
 */
export const SLIDING_WINDOWS_LUA = `${SLIDING_WINDOW_FUNCTION_LUA}
local now = tonumber(ARGV[1])
if now == nil then now = redisNow() end
local replies = {0}
local stored = {}
for i = 1, #KEYS do
  local refusal
  refusal, stored[i] = slidingWindow(KEYS[i], 1, tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1]), now, 'check')
  if refusal then
    replies[1] = 1
    replies[2 * i], replies[2 * i + 1] = refusal[1], refusal[2]
  else
    replies[2 * i], replies[2 * i + 1] = 0, 0
  end
end
if replies[1] == 1 then return replies end
for i = 1, #KEYS do
  local reply = slidingWindow(KEYS[i], 1, tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1]), now, 'consume', stored[i])
  replies[2 * i], replies[2 * i + 1] = reply[1], reply[2]
end
return replies
`;

/** Separates a key's hash tag from the rest of it: `<tag>|<rest>` (see clientKey). */
export const TAG_SEPARATOR = '|';

const escapeKey = (part: string) => part.replaceAll('%', '%25').replaceAll('}', '%7D');

/**
 * The library's key for `key`, i.e. `{<key>}:w` after its `<keyPrefix>:`: the client key is the
 * hash tag. A key `<tag>|<rest>` is `{<tag>}|<rest>:w` instead, so windows of one subject (an
 * account, and that account from one source) share a tag, hence a Cluster slot, and one script
 * can spend both. `}` (and `%`, to stay injective) are escaped: Redis takes the tag up to the
 * first `}`.
 */
function clientKey(key: string): string {
  const bar = key.indexOf(TAG_SEPARATOR);
  if (bar === -1) return `{${escapeKey(key)}}:w`;
  return `{${escapeKey(key.slice(0, bar))}}${escapeKey(key.slice(bar))}:w`;
}

/** `<keyPrefix>:{<key>}:w`: the Redis key holding the counts of `key` under `keyPrefix`. */
export function slidingWindowKey(keyPrefix: string, key: string): string {
  return `${keyPrefix}:${clientKey(key)}`;
}

const SLIDING_WINDOWS_COMMAND = 'gatehouseSlidingWindows';

/** One window of a call: the key of `key` under `keyPrefix`, with its limit. */
export interface WindowSpend {
  keyPrefix: string;
  key: string;
  limit: SlidingWindowLimit;
}

/** What spending on several windows at once answers: one Decision per window, in order. */
export interface WindowsDecision {
  /** Every point was counted. Otherwise none was. */
  allowed: boolean;
  decisions: Decision[];
}

/**
 * Spends one point of each of several windows in one script, all or nothing
 * (SLIDING_WINDOWS_LUA). Their keys must share a hash tag on Redis Cluster. Throws when Redis
 * fails, or at once when the client is not ready (like the library's rejectIfRedisNotReady).
 */
export function createRedisSlidingWindows(client: Redis | Cluster): {
  consume(windows: readonly WindowSpend[], now?: number): Promise<WindowsDecision>;
} {
  // ioredis's scripting API: EVALSHA, and EVAL once per connection that lacks the script.
  client.defineCommand(SLIDING_WINDOWS_COMMAND, { lua: SLIDING_WINDOWS_LUA });
  const run = (
    client as unknown as Record<string, (...args: (string | number)[]) => Promise<unknown>>
  )[SLIDING_WINDOWS_COMMAND] as (...args: (string | number)[]) => Promise<unknown>;
  return {
    async consume(windows, now) {
      if (client.status !== 'ready') throw new Error('Redis connection is not ready');
      const args: (string | number)[] = [now === undefined ? '' : Math.floor(now)];
      for (const w of windows) args.push(w.limit.points, Math.ceil(w.limit.durationSec * 1000));
      const keys = windows.map((w) => slidingWindowKey(w.keyPrefix, w.key));
      const reply = (await run.call(client, keys.length, ...keys, ...args)) as number[];
      const allowed = reply[0] === 0;
      return {
        allowed,
        decisions: windows.map((w, i) => {
          const consumed = reply[2 * i + 1] ?? 0;
          const msBeforeNext = reply[2 * i + 2] ?? 0;
          const points = w.limit.points;
          // In a refused spend, a window that would have fitted says {0, 0}: nothing counted.
          const fits = allowed || consumed === 0;
          return {
            allowed: fits,
            consumed,
            remaining: allowed ? Math.max(points - consumed, 0) : 0,
            msBeforeNext,
          };
        }),
      };
    },
  };
}

/**
 * `limit` on `client` through RateLimiterRedis. Throws (rejects) only when Redis fails; a
 * refusal is a Decision. The client should fail fast when Redis is down (enableOfflineQueue
 * false, low maxRetriesPerRequest, commandTimeout; see createRedis.ts) and must not use
 * lazyConnect, since a not-ready client is never sent commands.
 */
export function createRedisSlidingWindowLimiter(
  client: Redis | Cluster,
  limit: SlidingWindowLimit,
  options: RedisSlidingWindowLimiterOptions,
): RedisSlidingWindowLimiter {
  const { keyPrefix } = options;
  // Below one second the library skips the script for a plain INCRBY on the key.
  if (!(limit.durationSec >= 1)) {
    throw new RangeError('a sliding window on Redis needs a duration of at least one second');
  }
  const limiter = new RateLimiterRedis({
    storeClient: client,
    keyPrefix,
    points: limit.points,
    duration: limit.durationSec,
    customIncrTtlLuaScript: SLIDING_WINDOW_LUA,
    rejectIfRedisNotReady: options.rejectIfNotReady ?? true,
  });

  return {
    keyOf: (key) => slidingWindowKey(keyPrefix, key),
    get ready() {
      return client.status === 'ready';
    },
    async consume(key): Promise<Decision> {
      let res: RateLimiterRes;
      let allowed = true;
      try {
        res = await limiter.consume(clientKey(key));
      } catch (error) {
        // The library rejects with the RateLimiterRes for a refusal, with an Error when Redis fails.
        if (!(error instanceof RateLimiterRes)) throw error;
        res = error;
        allowed = false;
      }
      return {
        allowed,
        consumed: res.consumedPoints,
        remaining: res.remainingPoints,
        msBeforeNext: res.msBeforeNext,
      };
    },
    async refund(key) {
      await limiter.reward(clientKey(key), 1);
    },
  };
}
