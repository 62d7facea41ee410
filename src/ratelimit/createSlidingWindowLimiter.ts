import type { SlidingWindowStore } from './SlidingWindowStore.ts';

/**
 * The answer to one consume. A refusal is an answer, not an error: consume throws only when
 * the backend fails (which the fallback limiter never lets through).
 */
export interface Decision {
  /** The point was counted. */
  allowed: boolean;
  /** Whole points counted now; for a refusal, what counting this one would have made (> points). */
  consumed: number;
  /** Points left in the window after this call. */
  remaining: number;
  /**
   * Refused, or nothing left: ms until one point fits again (the RetryInfo delay). Otherwise:
   * ms until nothing is counted any more.
   */
  msBeforeNext: number;
}

/** One limit on many keys (a source address, an account, ...): the port the budgets compose. */
export interface SlidingWindowLimiter {
  /** Counts one point for `key` if it fits within the limit; a refused point is not counted. */
  consume(key: string): Promise<Decision>;
  /** Gives back one point consumed earlier (never below zero): the call it paid for was refused elsewhere. */
  refund(key: string): Promise<void>;
}

/** A limit: `points` per sliding window of `durationSec` seconds. */
export interface SlidingWindowLimit {
  points: number;
  /**
   * Must be positive: every key expires (a window that never slides is not one). At least one
   * second on Redis (the configured windows are whole seconds).
   */
  durationSec: number;
}

/**
 * `limit` on `store`. In production the store is the in-process one: the limiter without Redis,
 * and the insurance while Redis is down (createFallbackSlidingWindowLimiter.ts); on Redis the
 * window runs through rate-limiter-flexible instead (createRedisSlidingWindowLimiter.ts). The
 * contract suite drives both implementations of the window (applySlidingWindow and the Lua
 * script, evaluated on Redis with a fake clock) through this function.
 */
export function createSlidingWindowLimiter(
  store: SlidingWindowStore,
  limit: SlidingWindowLimit,
): SlidingWindowLimiter {
  const { points } = limit;
  if (!(limit.durationSec > 0)) {
    throw new RangeError('a sliding window needs a positive duration');
  }
  const windowMs = Math.ceil(limit.durationSec * 1000);
  return {
    async consume(key) {
      const reply = await store.apply(key, {
        operation: 'consume',
        points: 1,
        windowMs,
        limit: points,
      });
      const consumed = reply?.consumed ?? 0;
      return {
        allowed: consumed <= points,
        consumed,
        remaining: Math.max(points - consumed, 0),
        msBeforeNext: reply?.msBeforeNext ?? 0,
      };
    },
    async refund(key) {
      await store.apply(key, { operation: 'add', points: -1, windowMs, limit: points });
    },
  };
}
