import type { SlidingWindowStore } from './SlidingWindowStore.ts';

/**
 * The answer to one consume. A refusal is an answer, not an error: consume throws only when
 * the store fails (which a fallback store never lets through).
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
  /** Must be positive: every key expires (a window that never slides is not one). */
  durationSec: number;
}

/**
 * `limit` on `store` (Redis with an in-process fallback, or in-process only).
 *
 * rate-limiter-flexible has no part in this folder, on purpose: it has no sliding window (fixed
 * windows only); the custom-script hook of its RateLimiterRedis cannot host this one
 * (createRedisSlidingWindowStore.ts lists why) and its store base class is not public API;
 * RateLimiterMemory as the insurance would bring the double burst back exactly while Redis is
 * down; and its insurance strategy tells nobody that it fell back, which the log and health must
 * know (createFallbackSlidingWindowStore.ts). What would be left of it, a result class and the
 * consume/reward calls, is these few lines.
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
