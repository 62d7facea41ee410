import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { retryDelayMs } from './retryDelayMs.ts';

const settings = { retryBaseMs: 5000, retryMaxMs: 3_600_000 };

describe('retryDelayMs', () => {
  it('doubles with each failure', () => {
    const whole = (n: number) => retryDelayMs(n, settings, () => 1);
    assert.deepEqual([1, 2, 3, 4, 5].map(whole), [5000, 10_000, 20_000, 40_000, 80_000]);
  });

  it('stops growing at the maximum, however many failures', () => {
    assert.equal(
      retryDelayMs(12, settings, () => 1),
      3_600_000,
    );
    assert.equal(
      retryDelayMs(1000, settings, () => 1),
      3_600_000,
    );
  });

  it('jitters between half and the whole of the step', () => {
    assert.equal(
      retryDelayMs(3, settings, () => 0),
      10_000,
    );
    assert.equal(
      retryDelayMs(3, settings, () => 0.5),
      15_000,
    );
    for (let i = 0; i < 100; i++) {
      const d = retryDelayMs(3, settings);
      assert.ok(d >= 10_000 && d <= 20_000, String(d));
    }
  });
});
