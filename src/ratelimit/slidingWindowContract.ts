/**
 * Behaviour every sliding-window limiter must show, run against each backend by its test file
 * (MemorySlidingWindowRateLimiter.test.ts, SlidingWindowRateLimiter.test.ts). A fake clock makes
 * the expected numbers exact; windows are aligned on multiples of the window length.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { RateLimiterRes } from 'rate-limiter-flexible';
import type {
  SlidingWindowLimiterBase,
  SlidingWindowLimiterOptions,
} from './SlidingWindowLimiterBase.ts';

/** A start of window for every window length the tests use (1 s, 2 s, 5 s). */
export const WINDOW_START = 1_700_000_000_000;

/** Time under test control, in ms. */
export interface FakeClock {
  now: () => number;
  set: (ms: number) => void;
}

/** A clock that stands still until set. */
export function fakeClock(start = WINDOW_START): FakeClock {
  let time = start;
  return {
    now: () => time,
    set: (ms) => {
      time = ms;
    },
  };
}

/** What a caller observes from one limiter call. */
export interface Outcome {
  allowed: boolean;
  consumed: number;
  remaining: number;
  msBeforeNext: number;
}

/** Settles a limiter call into an Outcome; a rejection with anything but RateLimiterRes rethrows. */
export async function outcome(call: Promise<RateLimiterRes>): Promise<Outcome> {
  const settle = (allowed: boolean, res: RateLimiterRes): Outcome => ({
    allowed,
    consumed: res.consumedPoints,
    remaining: res.remainingPoints,
    msBeforeNext: res.msBeforeNext,
  });
  try {
    return settle(true, await call);
  } catch (error) {
    if (error instanceof RateLimiterRes) return settle(false, error);
    throw error;
  }
}

/** Consumes one point at a time until the first rejection; returns how many were allowed (max `limit`). */
export async function consumeUntilRejected(
  limiter: SlidingWindowLimiterBase,
  key: string,
  limit = 100,
): Promise<number> {
  for (let allowed = 0; allowed < limit; allowed++) {
    if (!(await outcome(limiter.consume(key))).allowed) return allowed;
  }
  return limit;
}

/** Builds the limiter under test with these options and this clock. */
export type MakeLimiter = (
  options: SlidingWindowLimiterOptions & { keyPrefix: string },
  now: () => number,
) => SlidingWindowLimiterBase;

/** Registers the contract's tests (call inside a describe). */
export function slidingWindowContract(make: MakeLimiter): void {
  const setup = (options: Omit<SlidingWindowLimiterOptions, 'keyPrefix'>) => {
    const clock = fakeClock();
    const limiter = make({ ...options, keyPrefix: `swtest-${randomUUID()}` }, clock.now);
    return { clock, limiter };
  };

  it('allows `points`, then rejects with msBeforeNext within the window, and a retry then succeeds', async () => {
    const { clock, limiter } = setup({ points: 5, duration: 1 });
    clock.set(WINDOW_START + 500);
    const first = await outcome(limiter.consume('k'));
    // Nothing left to wait for while points remain: msBeforeNext is when the window is empty,
    // i.e. when this window's points stop counting at the end of the next one.
    assert.deepEqual(first, { allowed: true, consumed: 1, remaining: 4, msBeforeNext: 1500 });
    for (let i = 2; i <= 5; i++) {
      const res = await outcome(limiter.consume('k'));
      assert.equal(res.allowed, true);
      assert.equal(res.consumed, i);
      assert.equal(res.remaining, 5 - i);
    }
    const rejected = await outcome(limiter.consume('k'));
    assert.equal(rejected.allowed, false);
    assert.equal(rejected.consumed, 6);
    assert.equal(rejected.remaining, 0);
    assert.ok(rejected.msBeforeNext > 0 && rejected.msBeforeNext <= 1000);
    // 5 points from this window decay over the next one; one point is free once 1/5 aged out.
    assert.equal(rejected.msBeforeNext, 700);

    clock.set(WINDOW_START + 500 + 699);
    assert.equal((await outcome(limiter.consume('k'))).allowed, false);
    clock.set(WINDOW_START + 500 + 700);
    const retry = await outcome(limiter.consume('k'));
    assert.equal(retry.allowed, true);
    assert.equal(retry.consumed, 5);
  });

  it('does not count rejected consumes', async () => {
    const { clock, limiter } = setup({ points: 2, duration: 1 });
    clock.set(WINDOW_START + 500);
    assert.equal(await consumeUntilRejected(limiter, 'k'), 2);
    for (let i = 0; i < 20; i++) await outcome(limiter.consume('k'));
    const res = await limiter.get('k');
    assert.equal(res?.consumedPoints, 2);
  });

  it('has no double burst at the window edge: only what aged out is free', async () => {
    const { clock, limiter } = setup({ points: 10, duration: 1 });
    clock.set(WINDOW_START + 900);
    assert.equal(await consumeUntilRejected(limiter, 'k'), 10);
    clock.set(WINDOW_START + 1000);
    assert.equal(await consumeUntilRejected(limiter, 'k'), 0, 'right at the boundary');
    clock.set(WINDOW_START + 1100);
    assert.equal(await consumeUntilRejected(limiter, 'k'), 1, '10% of the window aged out');
    clock.set(WINDOW_START + 1500);
    assert.equal(await consumeUntilRejected(limiter, 'k'), 4, 'half aged out, 1 already used');
    clock.set(WINDOW_START + 3000);
    assert.equal(await consumeUntilRejected(limiter, 'k'), 10, 'two windows later all is free');
  });

  it('forgets a key two windows after its last point', async () => {
    const { clock, limiter } = setup({ points: 3, duration: 1 });
    clock.set(WINDOW_START + 10);
    await limiter.consume('k');
    clock.set(WINDOW_START + 1999);
    assert.equal((await limiter.get('k'))?.consumedPoints, 1);
    clock.set(WINDOW_START + 2000);
    assert.equal(await limiter.get('k'), null);
  });

  it('penalty counts past the limit, reward gives back, get reads, delete forgets', async () => {
    const { clock, limiter } = setup({ points: 5, duration: 1 });
    clock.set(WINDOW_START + 500);
    assert.equal((await outcome(limiter.consume('k', 2))).consumed, 2);
    const penalty = await outcome(limiter.penalty('k', 4));
    // Over the limit, msBeforeNext is when one point fits again: 6 decaying to 4 in the next window.
    assert.deepEqual(penalty, { allowed: true, consumed: 6, remaining: 0, msBeforeNext: 834 });
    const read = await limiter.get('k');
    assert.equal(read?.consumedPoints, 6);
    assert.equal(read?.remainingPoints, 0);
    assert.equal((await outcome(limiter.consume('k'))).allowed, false);
    const reward = await outcome(limiter.reward('k', 3));
    assert.equal(reward.consumed, 3);
    assert.equal(reward.remaining, 2);
    assert.equal(await consumeUntilRejected(limiter, 'k'), 2);
    assert.equal(await limiter.delete('k'), true);
    assert.equal(await limiter.get('k'), null);
    assert.equal(await limiter.delete('k'), false);
    assert.equal(await consumeUntilRejected(limiter, 'k'), 5);
  });

  it('reward after the boundary also gives back points still counted from the last window', async () => {
    const { clock, limiter } = setup({ points: 5, duration: 1 });
    clock.set(WINDOW_START + 900);
    await limiter.consume('k', 5);
    clock.set(WINDOW_START + 1500);
    assert.equal((await limiter.get('k'))?.consumedPoints, 3, '5 * 0.5 rounds up');
    assert.equal((await outcome(limiter.reward('k', 1))).consumed, 2, '2.5 - 1 rounds up');
    assert.equal((await outcome(limiter.reward('k', 10))).consumed, 0, 'never below zero');
    assert.equal(await consumeUntilRejected(limiter, 'k'), 5);
  });

  it('block() rejects until it expires, then counting starts afresh', async () => {
    const { clock, limiter } = setup({ points: 3, duration: 1 });
    clock.set(WINDOW_START + 100);
    await limiter.consume('k', 2);
    const blocked = await outcome(limiter.block('k', 2));
    assert.deepEqual(blocked, { allowed: true, consumed: 4, remaining: 0, msBeforeNext: 2000 });
    const rejected = await outcome(limiter.consume('k'));
    assert.deepEqual(rejected, { allowed: false, consumed: 5, remaining: 0, msBeforeNext: 2000 });
    assert.equal((await limiter.get('k'))?.consumedPoints, 4);
    clock.set(WINDOW_START + 100 + 1999);
    assert.equal((await outcome(limiter.consume('k'))).msBeforeNext, 1);
    clock.set(WINDOW_START + 100 + 2000);
    assert.equal(await consumeUntilRejected(limiter, 'k'), 3);
  });

  it('blockDuration blocks on the consume that exceeds the limit', async () => {
    const { clock, limiter } = setup({ points: 2, duration: 1, blockDuration: 5 });
    clock.set(WINDOW_START + 100);
    assert.equal(await consumeUntilRejected(limiter, 'k'), 2);
    clock.set(WINDOW_START + 100 + 3000);
    const stillBlocked = await outcome(limiter.consume('k'));
    assert.equal(stillBlocked.allowed, false, 'the window alone would have freed points by now');
    assert.equal(stillBlocked.msBeforeNext, 2000);
    clock.set(WINDOW_START + 100 + 5000);
    assert.equal(await consumeUntilRejected(limiter, 'k'), 2);
  });

  it('set() pins a count for a duration', async () => {
    const { clock, limiter } = setup({ points: 3, duration: 1 });
    clock.set(WINDOW_START + 100);
    const set = await outcome(limiter.set('k', 1, 10));
    assert.equal(set.msBeforeNext, 10_000);
    assert.equal(await consumeUntilRejected(limiter, 'k'), 2);
    clock.set(WINDOW_START + 100 + 4000);
    const rejected = await outcome(limiter.consume('k'));
    assert.equal(rejected.allowed, false);
    assert.equal(rejected.msBeforeNext, 6000);
  });

  it('refuses state that would never expire', async () => {
    const { limiter } = setup({ points: 3, duration: 1 });
    await assert.rejects(limiter.block('k', 0), RangeError);
    assert.throws(() => make({ keyPrefix: 'x', points: 3, duration: 0 }, Date.now), RangeError);
  });
}
