import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { eventually } from '../../test/helpers/eventually.ts';
import { fastFailingClient, whenReady } from '../../test/helpers/fastFailingRedis.ts';
import { RedisServer } from '../../test/helpers/redisServer.ts';
import { createFallbackSlidingWindowLimiter } from './createFallbackSlidingWindowLimiter.ts';
import { createMemorySlidingWindowStore } from './createMemorySlidingWindowStore.ts';
import { createRedisSlidingWindowLimiter } from './createRedisSlidingWindowLimiter.ts';
import {
  createSlidingWindowLimiter,
  type SlidingWindowLimit,
} from './createSlidingWindowLimiter.ts';
import { consumeUntilRejected, storeOp } from './slidingWindowContract.ts';

const uniquePrefix = () => `swtest-${randomUUID()}`;

/** An in-process limiter as the insurance, for `limit`. */
const memoryLimiter = (limit: SlidingWindowLimit) =>
  createSlidingWindowLimiter(createMemorySlidingWindowStore(), limit);

describe('createFallbackSlidingWindowLimiter', () => {
  describe('when Redis is unreachable', () => {
    let down: Redis;
    before(() => {
      // Port 1 refuses connections: the client never becomes ready. The command timeout is far
      // beyond each test's own timeout, so answering at all proves nothing waited on a timer:
      // these tests need no clock to show "fast".
      down = fastFailingClient('redis://127.0.0.1:1', { commandTimeout: 120_000 });
    });
    after(() => down.disconnect());

    it('falls back to the insurance at once, which still enforces the limit', {
      timeout: 30_000,
    }, async () => {
      const fallbacks: unknown[] = [];
      const limit = { points: 3, durationSec: 1 };
      const insurance = createMemorySlidingWindowStore();
      const limiter = createFallbackSlidingWindowLimiter(
        createRedisSlidingWindowLimiter(down, limit, { keyPrefix: uniquePrefix() }),
        createSlidingWindowLimiter(insurance, limit),
        { onFallback: (error) => fallbacks.push(error) },
      );
      const results = [];
      for (let i = 0; i < 5; i++) results.push(await limiter.consume('k'));
      assert.deepEqual(
        results.map((r) => r.allowed),
        [true, true, true, false, false],
      );
      assert.ok(results[3] !== undefined && results[3].msBeforeNext > 0);
      // The counts the fallback answered from are the insurance's.
      assert.equal((await storeOp(insurance, limit, 'k', 'get'))?.consumed, 3);
      assert.equal((await storeOp(insurance, limit, 'k', 'add', 2))?.consumed, 5);
      assert.equal((await storeOp(insurance, limit, 'k', 'add', -5))?.consumed, 0);
      assert.equal((await limiter.consume('k')).allowed, true);
      await limiter.refund('k');
      assert.equal(await consumeUntilRejected(limiter, 'k'), 3, 'refunds reach the insurance');
      assert.equal(fallbacks.length, 1, 'onFallback once per outage, not per call');
      assert.equal(limiter.status().mode, 'degraded');
      assert.match(limiter.status().lastError ?? '', /not ready/);
    });

    it('the Redis limiter alone rejects with the error, also at once', {
      timeout: 30_000,
    }, async () => {
      const limiter = createRedisSlidingWindowLimiter(
        down,
        { points: 3, durationSec: 1 },
        { keyPrefix: uniquePrefix() },
      );
      await assert.rejects(limiter.consume('k'), /not ready/);
      await assert.rejects(limiter.refund('k'), /not ready/);
    });

    it('fails fast through the client config alone (enableOfflineQueue: false)', {
      timeout: 30_000,
    }, async () => {
      const limit = { points: 3, durationSec: 1 };
      const limiter = createFallbackSlidingWindowLimiter(
        createRedisSlidingWindowLimiter(down, limit, {
          keyPrefix: uniquePrefix(),
          rejectIfNotReady: false,
        }),
        memoryLimiter(limit),
      );
      assert.equal((await limiter.consume('k')).allowed, true);
      assert.match(limiter.status().lastError ?? '', /enableOfflineQueue/);
    });
  });

  it('falls back after commandTimeout when Redis accepts connections but never answers', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    assert.ok(address !== null && typeof address === 'object');
    // RESP2 without the ready check sends no handshake, so the client reports ready as soon as
    // TCP connects, like a Redis that hangs after the handshake.
    const hung = fastFailingClient(`redis://127.0.0.1:${address.port}`, {
      protocol: 2,
      enableReadyCheck: false,
    });
    try {
      await whenReady(hung);
      const limit = { points: 1, durationSec: 1 };
      const limiter = createFallbackSlidingWindowLimiter(
        createRedisSlidingWindowLimiter(hung, limit, { keyPrefix: uniquePrefix() }),
        memoryLimiter(limit),
      );
      const started = performance.now();
      assert.equal((await limiter.consume('k')).allowed, true);
      // It waited for the command timeout (200 ms) and then answered; a hang would run into the
      // test's own timeout instead.
      const took = performance.now() - started;
      assert.ok(took >= 150, `answered after ${took.toFixed(0)} ms, before the command timed out`);
      assert.equal((await limiter.consume('k')).allowed, false);
      assert.match(limiter.status().lastError ?? '', /timed out/i);
      assert.equal(limiter.status().mode, 'degraded', 'ready client, failing calls');
    } finally {
      hung.disconnect();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  describe('with Redis that goes down and comes back', () => {
    let server: RedisServer;
    let redis: Redis;

    before(async () => {
      server = await RedisServer.start();
      redis = fastFailingClient(server.url, { connectTimeout: 10_000 });
      await whenReady(redis, 5000);
    });

    after(async () => {
      redis.disconnect();
      await server.stop();
    });

    it('falls back to in-process limits within 100 ms, reports it, and recovers', async () => {
      const events: string[] = [];
      const limit = { points: 3, durationSec: 2 };
      const inRedis = createRedisSlidingWindowLimiter(redis, limit, { keyPrefix: uniquePrefix() });
      const limiter = createFallbackSlidingWindowLimiter(inRedis, memoryLimiter(limit), {
        onFallback: (error) => events.push(`fallback ${error instanceof Error}`),
        onRecover: () => events.push('recover'),
      });

      await limiter.consume('ip');
      assert.equal(limiter.status().mode, 'redis');
      assert.equal(await redis.exists(inRedis.keyOf('ip')), 1, 'counted in Redis');

      await server.stop();
      await eventually(
        async () => redis.status,
        (status) => status !== 'ready',
        { what: 'client notices Redis is gone' },
      );
      const started = performance.now();
      const first = await limiter.consume('ip');
      assert.ok(performance.now() - started < 100, 'insurance answers at once');
      assert.equal(first.allowed, true);
      // The insurance starts empty (Redis state is out of reach) but still enforces the limit.
      assert.equal(await consumeUntilRejected(limiter, 'ip'), 2);
      const status = limiter.status();
      assert.equal(status.mode, 'degraded');
      assert.ok(status.lastErrorAt !== null && status.lastError !== null);
      assert.deepEqual(events, ['fallback true']);

      await server.start();
      await eventually(
        async () => redis.status,
        (status) => status === 'ready',
        { what: 'client reconnects' },
      );
      const back = await limiter.consume('ip-after');
      assert.equal(back.allowed, true);
      assert.equal(await redis.exists(inRedis.keyOf('ip-after')), 1, 'Redis counts again');
      assert.equal(limiter.status().mode, 'redis');
      assert.deepEqual(events, ['fallback true', 'recover']);
    });
  });
});
