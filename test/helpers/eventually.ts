/**
 * Polls `probe` until `done(value)` holds and returns that value; fails with the last value seen
 * after `timeoutMs`. The deadline is generous on purpose: it only bounds a test whose condition
 * never comes true, it never decides whether something was "fast enough".
 */
export async function eventually<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  { timeoutMs = 15_000, intervalMs = 20, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(
        `${what} did not hold within ${timeoutMs} ms (last: ${JSON.stringify(value)})`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
