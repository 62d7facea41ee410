import type { RedisSlidingWindowLimiter } from './createRedisSlidingWindowLimiter.ts';
import type { SlidingWindowLimiter } from './createSlidingWindowLimiter.ts';

/** Where a fallback limiter enforces its limit right now, for health checks and metrics. */
export interface FallbackStatus {
  /**
   * redis: the shared sliding window in Redis. degraded: Redis is failing, so the in-process
   * insurance answers and each instance enforces the limit on its own.
   */
  mode: 'redis' | 'degraded';
  lastErrorAt: number | null;
  lastError: string | null;
}

/** A limiter that falls back to in-process counts and reports whether it does. */
export interface FallbackSlidingWindowLimiter extends SlidingWindowLimiter {
  status(): FallbackStatus;
}

/** Hooks for the operator's log. */
export interface FallbackHooks {
  /** Redis started failing: the insurance answers now. Called once per outage. */
  onFallback?: (error: unknown) => void;
  /** Redis answers again after onFallback. */
  onRecover?: () => void;
}

/**
 * The Redis limiter, with `insurance` (an in-process limiter) answering every call Redis fails,
 * at once. Redis is tried again on every call, so it takes over by itself as soon as it answers.
 * A refusal is not a failure: the Redis limiter answers it as a Decision.
 *
 * This composes what rate-limiter-flexible's insuranceLimiter option would do, because that
 * option takes a fixed-window limiter and tells nobody that it answers; here the insurance is an
 * in-process sliding window (falling back keeps the no-double-burst guarantee) and the outage is
 * logged and shown by status(). Its state is per process and starts empty, so during an outage
 * a client can get `points` per instance, and what it spent in Redis is forgotten.
 */
export function createFallbackSlidingWindowLimiter(
  redis: RedisSlidingWindowLimiter,
  insurance: SlidingWindowLimiter,
  hooks: FallbackHooks = {},
): FallbackSlidingWindowLimiter {
  let lastErrorAt: number | null = null;
  let lastError: string | null = null;
  /** The most recent Redis call failed: the insurance is answering. */
  let failing = false;

  /** Runs `inRedis`; when it throws, records the outage and runs `inProcess` instead. */
  const attempt = async <T>(inRedis: () => Promise<T>, inProcess: () => Promise<T>): Promise<T> => {
    let result: T;
    try {
      result = await inRedis();
    } catch (error) {
      lastErrorAt = Date.now();
      lastError = error instanceof Error ? error.message : String(error);
      if (!failing) {
        failing = true;
        hooks.onFallback?.(error);
      }
      return inProcess();
    }
    if (failing) {
      failing = false;
      hooks.onRecover?.();
    }
    return result;
  };

  return {
    consume: (key) =>
      attempt(
        () => redis.consume(key),
        () => insurance.consume(key),
      ),
    refund: (key) =>
      attempt(
        () => redis.refund(key),
        () => insurance.refund(key),
      ),
    status() {
      return { mode: redis.ready && !failing ? 'redis' : 'degraded', lastErrorAt, lastError };
    },
  };
}
