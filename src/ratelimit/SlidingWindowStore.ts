import type { SlidingWindowReply, SlidingWindowRequest } from './applySlidingWindow.ts';

/**
 * Where the sliding-window counts of one limit live, under the limiter of
 * createSlidingWindowLimiter.ts: this process in production (createMemorySlidingWindowStore.ts),
 * and in tests also Redis running SLIDING_WINDOW_LUA with a fake clock, the script production
 * runs through rate-limiter-flexible. Every backend computes applySlidingWindow's numbers
 * exactly, atomically per key; slidingWindowContract.ts is the test suite each one passes.
 */
export interface SlidingWindowStore {
  /** Runs one operation on the counts of `key`; null when get finds nothing. Throws only when the backend fails. */
  apply(key: string, request: SlidingWindowRequest): Promise<SlidingWindowReply | null>;
}
