/** A loop body of the load generator. Workers call `op` back to back (closed loop). */
export interface Workload {
  /**
   * One operation of `worker` (0 .. concurrency-1). Resolves with the latency series it belongs
   * to (undefined: only 'all'); throws OpError on failure, StopWorker when the worker must stop.
   */
  op(worker: number): Promise<string | undefined>;
  close(): Promise<void> | void;
  /** Counters worth reporting (e.g. how many calls had to re-use a token). */
  stats?(): Record<string, number>;
}
