/**
 * How long after its `attempt`-th failure (1 = the first) a delivery is due again: exponential
 * backoff, min(maxMs, baseMs * 2^(attempt-1)), with jitter taking it to a random point in
 * [half, whole] of that, so receivers that fail together are not retried together.
 */
export function retryDelayMs(
  attempt: number,
  settings: { retryBaseMs: number; retryMaxMs: number },
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(
    settings.retryMaxMs,
    settings.retryBaseMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 30),
  );
  return ceiling / 2 + (random() * ceiling) / 2;
}
