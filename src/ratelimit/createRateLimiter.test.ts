import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createRateLimiter, rateLimiterStatus } from './createRateLimiter.ts';
import { MemorySlidingWindowRateLimiter } from './MemorySlidingWindowRateLimiter.ts';
import { SlidingWindowRateLimiter } from './SlidingWindowRateLimiter.ts';
import { consumeUntilRejected, outcome } from './slidingWindowContract.ts';

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  server.close();
  await once(server, 'close');
  return address.port;
}

/** A throwaway redis-server of our own, so the test may kill it. */
function startRedisServer(port: number): ChildProcess {
  return spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
}

async function stopRedisServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  server.kill('SIGKILL');
  await once(server, 'exit');
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe('createRateLimiter', () => {
  it('without Redis returns an in-process sliding window', async () => {
    const limiter = createRateLimiter(null, { keyPrefix: 'login', points: 3, durationSec: 60 });
    assert.ok(limiter instanceof MemorySlidingWindowRateLimiter);
    assert.equal(await consumeUntilRejected(limiter, 'ip-1'), 3);
    assert.equal(await consumeUntilRejected(limiter, 'ip-2'), 3, 'keys are independent');
    assert.deepEqual(rateLimiterStatus(limiter), {
      mode: 'in-process',
      lastErrorAt: null,
      lastError: null,
    });
  });

  it('passes blockDurationSec on', async () => {
    const limiter = createRateLimiter(null, {
      keyPrefix: 'login',
      points: 1,
      durationSec: 1,
      blockDurationSec: 30,
    });
    await limiter.consume('ip');
    const blocked = await outcome(limiter.consume('ip'));
    assert.equal(blocked.allowed, false);
    assert.equal(blocked.msBeforeNext, 30_000);
  });

  describe('with Redis that goes down and comes back', () => {
    let port: number;
    let server: ChildProcess;
    let redis: Redis;

    before(async () => {
      port = await freePort();
      server = startRedisServer(port);
      redis = new Redis({
        port,
        host: '127.0.0.1',
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        commandTimeout: 200,
        retryStrategy: () => 50,
      });
      redis.on('error', () => {});
      await until(() => redis.status === 'ready', 5000);
    });

    after(async () => {
      redis.disconnect();
      await stopRedisServer(server);
    });

    it('falls back to in-process limits within 100 ms, reports it, and recovers', async () => {
      const events: string[] = [];
      const keyPrefix = `crl-${randomUUID()}`;
      const limiter = createRateLimiter(redis, {
        keyPrefix,
        points: 3,
        durationSec: 2,
        onFallback: ({ keyPrefix: prefix, error }) =>
          events.push(`fallback ${prefix === keyPrefix} ${error instanceof Error}`),
        onRecover: ({ keyPrefix: prefix }) => events.push(`recover ${prefix === keyPrefix}`),
      });
      assert.ok(limiter instanceof SlidingWindowRateLimiter);

      await limiter.consume('ip');
      assert.equal(rateLimiterStatus(limiter).mode, 'redis');
      assert.equal(await redis.exists(limiter.storeKeys('ip').window), 1, 'counted in Redis');

      await stopRedisServer(server);
      await until(() => redis.status !== 'ready', 2000);
      const started = performance.now();
      const first = await outcome(limiter.consume('ip'));
      assert.ok(performance.now() - started < 100, 'insurance answers at once');
      assert.equal(first.allowed, true);
      // The insurance starts empty (Redis state is out of reach) but still enforces the limit.
      assert.equal(await consumeUntilRejected(limiter, 'ip'), 2);
      const status = rateLimiterStatus(limiter);
      assert.equal(status.mode, 'degraded');
      assert.ok(status.lastErrorAt !== null && status.lastError !== null);
      assert.deepEqual(events, ['fallback true true']);

      server = startRedisServer(port);
      await until(() => redis.status === 'ready', 5000);
      const back = await outcome(limiter.consume('ip-after'));
      assert.equal(back.allowed, true);
      assert.equal(
        await redis.exists(limiter.storeKeys('ip-after').window),
        1,
        'Redis counts again',
      );
      assert.equal(rateLimiterStatus(limiter).mode, 'redis');
      assert.deepEqual(events, ['fallback true true', 'recover true']);
    });
  });
});
