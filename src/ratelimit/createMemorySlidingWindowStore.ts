import {
  applySlidingWindow,
  type SlidingWindowReply,
  type SlidingWindowRequest,
  type WindowCounts,
} from './applySlidingWindow.ts';
import type { SlidingWindowStore } from './SlidingWindowStore.ts';

/** The in-process store, with the number of keys it holds (for tests and metrics). */
export interface MemorySlidingWindowStore extends SlidingWindowStore {
  /** Keys held, expired ones included until the next sweep. */
  readonly size: number;
}

/**
 * The sliding window of the Redis limiter, kept in this process: the store of an embedded
 * single-instance deployment and the insurance while Redis is down. Preferred over
 * rate-limiter-flexible's RateLimiterMemory, whose fixed window would reopen the double burst
 * at the window edge exactly when Redis is unavailable. `now` (ms) is injectable for tests.
 */
export function createMemorySlidingWindowStore(
  options: { now?: () => number } = {},
): MemorySlidingWindowStore {
  const now = options.now ?? Date.now;
  const states = new Map<string, WindowCounts>();
  let lastSweepAt = 0;

  /**
   * Drops expired keys at most once per window, so memory follows the keys active in the last
   * two windows without a timer keeping the process alive; the cost is amortised over a
   * window's worth of calls.
   */
  const sweep = (time: number, windowMs: number) => {
    if (time - lastSweepAt < windowMs) return;
    lastSweepAt = time;
    for (const [key, counts] of states) {
      if (counts.expiresAt <= time) states.delete(key);
    }
  };

  return {
    get size() {
      return states.size;
    },
    async apply(key: string, request: SlidingWindowRequest): Promise<SlidingWindowReply | null> {
      const time = now();
      sweep(time, request.windowMs);
      const { state, reply } = applySlidingWindow(states.get(key), request, time);
      if (request.operation !== 'get') {
        if (state !== undefined && state.expiresAt > time) states.set(key, state);
        else states.delete(key);
      }
      return reply;
    },
  };
}
