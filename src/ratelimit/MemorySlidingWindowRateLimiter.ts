import {
  applySlidingWindow,
  type SlidingWindowReply,
  type SlidingWindowRequest,
  type SlidingWindowState,
} from './applySlidingWindow.ts';
import {
  SlidingWindowLimiterBase,
  type SlidingWindowLimiterOptions,
} from './SlidingWindowLimiterBase.ts';

/** Limiter options plus an injectable clock (ms) for tests. */
export interface MemorySlidingWindowRateLimiterOptions extends SlidingWindowLimiterOptions {
  now?: () => number;
}

/** The time after which nothing in `state` counts any more. */
function expiresAt(state: SlidingWindowState): number {
  return Math.max(state.window?.expiresAt ?? 0, state.fixed?.expiresAt ?? 0);
}

/**
 * The same sliding window as SlidingWindowRateLimiter, kept in this process: the limiter of an
 * embedded single-instance deployment and the insurance limiter while Redis is down. Preferred
 * over the library's RateLimiterMemory, whose fixed window would reopen the double burst at the
 * window edge exactly when Redis is unavailable.
 */
export class MemorySlidingWindowRateLimiter extends SlidingWindowLimiterBase {
  readonly #now: () => number;
  readonly #states = new Map<string, SlidingWindowState>();
  #lastSweepAt = 0;

  constructor(options: MemorySlidingWindowRateLimiterOptions) {
    const { now, ...limiter } = options;
    super(limiter);
    this.#now = now ?? Date.now;
  }

  /** Number of keys held (expired ones included until the next sweep); for tests and metrics. */
  get size(): number {
    return this.#states.size;
  }

  protected async applyToStore(
    rlKey: string,
    request: SlidingWindowRequest,
  ): Promise<SlidingWindowReply | null> {
    const now = this.#now();
    this.#sweep(now);
    const { state, reply } = applySlidingWindow(this.#states.get(rlKey) ?? {}, request, now);
    if (request.operation !== 'get') {
      if (expiresAt(state) > now) this.#states.set(rlKey, state);
      else this.#states.delete(rlKey);
    }
    return reply;
  }

  protected async removeFromStore(rlKey: string): Promise<boolean> {
    const state = this.#states.get(rlKey);
    this.#states.delete(rlKey);
    return state !== undefined && expiresAt(state) > this.#now();
  }

  /**
   * Drops expired keys at most once per window, so memory follows the keys active in the last
   * two windows without a timer keeping the process alive; the cost is amortised over a
   * window's worth of calls.
   */
  #sweep(now: number): void {
    if (now - this.#lastSweepAt < this.msDuration) return;
    this.#lastSweepAt = now;
    for (const [rlKey, state] of this.#states) {
      if (expiresAt(state) <= now) this.#states.delete(rlKey);
    }
  }
}
