/** Latency percentiles (milliseconds) of one series of operations. */
export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

/**
 * Every latency sample of a run, kept exactly (8 bytes each: a 10 s run at 50k ops/s is 4 MB)
 * and sorted once at the end, so percentiles are exact rather than bucketed.
 */
export class LatencyRecorder {
  #samples = new Float64Array(1 << 14);
  #count = 0;

  record(ms: number): void {
    if (this.#count === this.#samples.length) {
      const grown = new Float64Array(this.#samples.length * 2);
      grown.set(this.#samples);
      this.#samples = grown;
    }
    this.#samples[this.#count++] = ms;
  }

  get count(): number {
    return this.#count;
  }

  summary(): LatencySummary {
    const n = this.#count;
    if (n === 0)
      return { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0, max: 0 };
    const sorted = this.#samples.slice(0, n).sort();
    let sum = 0;
    for (const v of sorted) sum += v;
    // Nearest-rank percentile: the smallest sample with at least p% of samples at or below it.
    const at = (p: number) =>
      sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))] ?? 0;
    return {
      count: n,
      min: sorted[0] ?? 0,
      mean: sum / n,
      p50: at(50),
      p90: at(90),
      p95: at(95),
      p99: at(99),
      p999: at(99.9),
      max: sorted[n - 1] ?? 0,
    };
  }
}
