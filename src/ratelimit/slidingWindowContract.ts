/**
 * Behaviour every sliding-window store must show, run against each backend by its test file
 * (createMemorySlidingWindowStore.test.ts; createRedisSlidingWindowLimiter.test.ts, on the Lua
 * script production runs through rate-limiter-flexible) through createSlidingWindowLimiter. A
 * fake clock makes the expected numbers exact; windows are aligned on multiples of the window
 * length.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import type { SlidingWindowOperation, SlidingWindowReply } from './applySlidingWindow.ts';
import {
  createSlidingWindowLimiter,
  type SlidingWindowLimit,
  type SlidingWindowLimiter,
} from './createSlidingWindowLimiter.ts';
import type { SlidingWindowStore } from './SlidingWindowStore.ts';

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

/** Consumes one point at a time until the first refusal; returns how many were allowed (max `limit`). */
export async function consumeUntilRejected(
  limiter: SlidingWindowLimiter,
  key: string,
  limit = 100,
): Promise<number> {
  for (let allowed = 0; allowed < limit; allowed++) {
    if (!(await limiter.consume(key)).allowed) return allowed;
  }
  return limit;
}

/** One raw store operation under `limit` (for multi-point steps and reads the limiter does not offer). */
export function storeOp(
  store: SlidingWindowStore,
  limit: SlidingWindowLimit,
  key: string,
  operation: SlidingWindowOperation,
  points = 0,
): Promise<SlidingWindowReply | null> {
  return store.apply(key, {
    operation,
    points,
    windowMs: limit.durationSec * 1000,
    limit: limit.points,
  });
}

/** Builds the store under test with keys under `keyPrefix` and this clock. */
export type MakeStore = (keyPrefix: string, now: () => number) => SlidingWindowStore;

/** Registers the contract's tests (call inside a describe). */
export function slidingWindowContract(make: MakeStore): void {
  const setup = (limit: SlidingWindowLimit) => {
    const clock = fakeClock();
    const store = make(`swtest-${randomUUID()}`, clock.now);
    const limiter = createSlidingWindowLimiter(store, limit);
    const op = (key: string, operation: SlidingWindowOperation, points = 0) =>
      storeOp(store, limit, key, operation, points);
    return { clock, store, limiter, op };
  };

  it('allows `points`, then rejects with msBeforeNext within the window, and a retry then succeeds', async () => {
    const { clock, limiter } = setup({ points: 5, durationSec: 1 });
    clock.set(WINDOW_START + 500);
    const first = await limiter.consume('k');
    // Nothing left to wait for while points remain: msBeforeNext is when the window is empty,
    // i.e. when this window's points stop counting at the end of the next one.
    assert.deepEqual(first, { allowed: true, consumed: 1, remaining: 4, msBeforeNext: 1500 });
    for (let i = 2; i <= 5; i++) {
      const res = await limiter.consume('k');
      assert.equal(res.allowed, true);
      assert.equal(res.consumed, i);
      assert.equal(res.remaining, 5 - i);
    }
    const rejected = await limiter.consume('k');
    assert.equal(rejected.allowed, false);
    assert.equal(rejected.consumed, 6);
    assert.equal(rejected.remaining, 0);
    assert.ok(rejected.msBeforeNext > 0 && rejected.msBeforeNext <= 1000);
    // 5 points from this window decay over the next one; one point is free once 1/5 aged out.
    assert.equal(rejected.msBeforeNext, 700);

    clock.set(WINDOW_START + 500 + 699);
    assert.equal((await limiter.consume('k')).allowed, false);
    clock.set(WINDOW_START + 500 + 700);
    const retry = await limiter.consume('k');
    assert.equal(retry.allowed, true);
    assert.equal(retry.consumed, 5);
  });

  it('does not count rejected consumes', async () => {
    const { clock, limiter, op } = setup({ points: 2, durationSec: 1 });
    clock.set(WINDOW_START + 500);
    assert.equal(await consumeUntilRejected(limiter, 'k'), 2);
    for (let i = 0; i < 20; i++) assert.equal((await limiter.consume('k')).consumed, 3);
    assert.equal((await op('k', 'get'))?.consumed, 2);
  });

  it('has no double burst at the window edge: only what aged out is free', async () => {
    const { clock, limiter } = setup({ points: 10, durationSec: 1 });
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
    const { clock, limiter, op } = setup({ points: 3, durationSec: 1 });
    clock.set(WINDOW_START + 10);
    await limiter.consume('k');
    clock.set(WINDOW_START + 1999);
    assert.equal((await op('k', 'get'))?.consumed, 1);
    clock.set(WINDOW_START + 2000);
    assert.equal(await op('k', 'get'), null);
  });

  it('add counts past the limit, refund gives back, get reads', async () => {
    const { clock, limiter, op } = setup({ points: 5, durationSec: 1 });
    clock.set(WINDOW_START + 500);
    assert.equal((await op('k', 'consume', 2))?.consumed, 2);
    // Over the limit, msBeforeNext is when one point fits again: 6 decaying to 4 in the next window.
    assert.deepEqual(await op('k', 'add', 4), { consumed: 6, msBeforeNext: 834 });
    assert.equal((await op('k', 'get'))?.consumed, 6);
    assert.equal((await limiter.consume('k')).allowed, false);
    for (let i = 0; i < 3; i++) await limiter.refund('k');
    assert.equal((await op('k', 'get'))?.consumed, 3);
    assert.equal(await consumeUntilRejected(limiter, 'k'), 2);
  });

  it('refund gives back exactly the point a refused call paid for, and never goes below zero', async () => {
    const { clock, limiter } = setup({ points: 1, durationSec: 1 });
    clock.set(WINDOW_START + 200);
    await limiter.refund('unknown');
    assert.equal(await consumeUntilRejected(limiter, 'unknown'), 1, 'a refund is no credit');
    assert.equal((await limiter.consume('k')).allowed, true);
    assert.equal((await limiter.consume('k')).allowed, false);
    await limiter.refund('k');
    assert.deepEqual(await limiter.consume('k'), {
      allowed: true,
      consumed: 1,
      remaining: 0,
      msBeforeNext: 1800,
    });
  });

  it('refund after the boundary also gives back points still counted from the last window', async () => {
    const { clock, limiter, op } = setup({ points: 5, durationSec: 1 });
    clock.set(WINDOW_START + 900);
    await op('k', 'consume', 5);
    clock.set(WINDOW_START + 1500);
    assert.equal((await op('k', 'get'))?.consumed, 3, '5 * 0.5 rounds up');
    await limiter.refund('k');
    assert.equal((await op('k', 'get'))?.consumed, 2, '2.5 - 1 rounds up');
    assert.equal((await op('k', 'add', -10))?.consumed, 0, 'never below zero');
    assert.equal(await consumeUntilRejected(limiter, 'k'), 5);
  });

  it('refuses a window that would never expire', () => {
    const store = make(`swtest-${randomUUID()}`, Date.now);
    assert.throws(
      () => createSlidingWindowLimiter(store, { points: 3, durationSec: 0 }),
      RangeError,
    );
  });
}
