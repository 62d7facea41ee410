import type { SlidingWindowReply, SlidingWindowRequest } from './applySlidingWindow.ts';
import type { RedisSlidingWindowStore } from './createRedisSlidingWindowStore.ts';
import type { SlidingWindowStore } from './SlidingWindowStore.ts';

/** Where a fallback store enforces limits right now, for health checks and metrics. */
export interface FallbackStatus {
  /**
   * redis: the shared sliding window in Redis. degraded: Redis is failing, so the in-process
   * insurance answers and each instance enforces the limit on its own.
   */
  mode: 'redis' | 'degraded';
  lastErrorAt: number | null;
  lastError: string | null;
}

/** A store that falls back to in-process counts and reports whether it does. */
export interface FallbackSlidingWindowStore extends SlidingWindowStore {
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
 * The Redis store, with `insurance` (an in-process store) answering every operation Redis fails,
 * at once: the insuranceLimiter strategy of rate-limiter-flexible, by composition. Redis is
 * tried again on every call, so it takes over by itself as soon as it answers.
 *
 * Use an in-process sliding window as the insurance, not a fixed window, so falling back keeps
 * the no-double-burst guarantee. Its state is per process and starts empty, so during an outage
 * a client can get `points` per instance, and what it spent in Redis is forgotten.
 */
export function createFallbackSlidingWindowStore(
  redis: RedisSlidingWindowStore,
  insurance: SlidingWindowStore,
  hooks: FallbackHooks = {},
): FallbackSlidingWindowStore {
  let lastErrorAt: number | null = null;
  let lastError: string | null = null;
  /** The most recent Redis call failed: the insurance is answering. */
  let failing = false;

  return {
    async apply(key: string, request: SlidingWindowRequest): Promise<SlidingWindowReply | null> {
      let reply: SlidingWindowReply | null;
      try {
        reply = await redis.apply(key, request);
      } catch (error) {
        lastErrorAt = Date.now();
        lastError = error instanceof Error ? error.message : String(error);
        if (!failing) {
          failing = true;
          hooks.onFallback?.(error);
        }
        return insurance.apply(key, request);
      }
      if (failing) {
        failing = false;
        hooks.onRecover?.();
      }
      return reply;
    },
    status() {
      return { mode: redis.ready && !failing ? 'redis' : 'degraded', lastErrorAt, lastError };
    },
  };
}
