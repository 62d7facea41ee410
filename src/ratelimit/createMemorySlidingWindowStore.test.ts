import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemorySlidingWindowStore } from './createMemorySlidingWindowStore.ts';
import { createSlidingWindowLimiter } from './createSlidingWindowLimiter.ts';
import { fakeClock, slidingWindowContract, WINDOW_START } from './slidingWindowContract.ts';

describe('createMemorySlidingWindowStore', () => {
  slidingWindowContract((_keyPrefix, now) => createMemorySlidingWindowStore({ now }));

  it('drops expired keys, so memory follows the active keys', async () => {
    const clock = fakeClock(WINDOW_START + 100);
    const store = createMemorySlidingWindowStore({ now: clock.now });
    const limiter = createSlidingWindowLimiter(store, { points: 5, durationSec: 1 });
    for (let i = 0; i < 100; i++) await limiter.consume(`client-${i}`);
    assert.equal(store.size, 100);
    clock.set(WINDOW_START + 2000);
    await limiter.consume('late');
    assert.equal(store.size, 1);
  });
});
