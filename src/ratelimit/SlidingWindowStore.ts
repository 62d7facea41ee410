import type { SlidingWindowReply, SlidingWindowRequest } from './applySlidingWindow.ts';

/**
 * Where the sliding-window counts of one limit live (Redis, or this process). Every backend
 * computes applySlidingWindow's numbers exactly, atomically per key; slidingWindowContract.ts is
 * the test suite each one passes.
 */
export interface SlidingWindowStore {
  /** Runs one operation on the counts of `key`; null when get finds nothing. Throws only when the backend fails. */
  apply(key: string, request: SlidingWindowRequest): Promise<SlidingWindowReply | null>;
}
