import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemorySlidingWindowRateLimiter } from './MemorySlidingWindowRateLimiter.ts';
import { fakeClock, slidingWindowContract, WINDOW_START } from './slidingWindowContract.ts';

describe('MemorySlidingWindowRateLimiter', () => {
  slidingWindowContract((options, now) => new MemorySlidingWindowRateLimiter({ ...options, now }));

  it('drops expired keys, so memory follows the active keys', async () => {
    const clock = fakeClock(WINDOW_START + 100);
    const limiter = new MemorySlidingWindowRateLimiter({ points: 5, duration: 1, now: clock.now });
    for (let i = 0; i < 100; i++) await limiter.consume(`client-${i}`);
    assert.equal(limiter.size, 100);
    clock.set(WINDOW_START + 2000);
    await limiter.consume('late');
    assert.equal(limiter.size, 1);
  });
});
