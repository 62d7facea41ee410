import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { AppError } from '../errors/AppError.ts';
import { CallAbort } from './CallAbort.ts';

describe('CallAbort', () => {
  it('is not aborted before its deadline and makes no signal until one is asked for', () => {
    const abort = new CallAbort(Number.POSITIVE_INFINITY);
    assert.equal(abort.aborted, false);
    assert.equal(abort.signal.aborted, false);
  });

  it('counts a passed deadline as aborted without any signal or timer', () => {
    const abort = new CallAbort(Date.now() - 1);
    assert.equal(abort.aborted, true);
    assert.ok(abort.reason instanceof AppError);
    assert.equal(abort.reason.reason, 'DEADLINE_EXCEEDED');
    // A signal asked for afterwards is aborted already, with the same reason.
    assert.equal(abort.signal.aborted, true);
    assert.equal(abort.signal.reason, abort.reason);
  });

  it('gives a signal made after an abort that abort and its reason', () => {
    const abort = new CallAbort(Number.POSITIVE_INFINITY);
    const cancelled = new AppError('DEADLINE_EXCEEDED', 'call cancelled');
    abort.abort(cancelled);
    abort.abort(new AppError('SHUTTING_DOWN', 'later reasons do not replace the first'));
    assert.equal(abort.signal.aborted, true);
    assert.equal(abort.signal.reason, cancelled);
  });

  it('fires a signal that was asked for when the deadline passes', async () => {
    const abort = new CallAbort(Date.now() + 20);
    const { signal } = abort;
    assert.equal(signal.aborted, false);
    await once(signal, 'abort');
    assert.equal((signal.reason as AppError).reason, 'DEADLINE_EXCEEDED');
    assert.equal(abort.aborted, true);
  });

  it('stops the deadline timer once closed', () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const abort = new CallAbort(Date.now() + 60_000);
    assert.equal(timers(), before, 'no timer until the signal is asked for');
    const { signal } = abort;
    assert.equal(timers(), before + 1, 'the deadline timer runs once there is a signal');
    abort.close();
    assert.equal(timers(), before, 'close() stopped it');
    assert.equal(signal.aborted, false);
  });
});
