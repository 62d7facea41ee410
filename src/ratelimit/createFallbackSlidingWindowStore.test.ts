import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { eventually } from '../../test/helpers/eventually.ts';
import { fastFailingClient, whenReady } from '../../test/helpers/fastFailingRedis.ts';
import { RedisServer } from '../../test/helpers/redisServer.ts';
import { createFallbackSlidingWindowStore } from './createFallbackSlidingWindowStore.ts';
import { createMemorySlidingWindowStore } from './createMemorySlidingWindowStore.ts';
import { createRedisSlidingWindowStore } from './createRedisSlidingWindowStore.ts';
import { createSlidingWindowLimiter } from './createSlidingWindowLimiter.ts';
import { consumeUntilRejected, storeOp } from './slidingWindowContract.ts';

const uniquePrefix = () => `swtest-${randomUUID()}`;

describe('createFallbackSlidingWindowStore', () => {
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
      const store = createFallbackSlidingWindowStore(
        createRedisSlidingWindowStore(down, { keyPrefix: uniquePrefix() }),
        createMemorySlidingWindowStore(),
        { onFallback: (error) => fallbacks.push(error) },
      );
      const limiter = createSlidingWindowLimiter(store, limit);
      const results = [];
      for (let i = 0; i < 5; i++) results.push(await limiter.consume('k'));
      assert.deepEqual(
        results.map((r) => r.allowed),
        [true, true, true, false, false],
      );
      assert.ok(results[3] !== undefined && results[3].msBeforeNext > 0);
      assert.equal((await storeOp(store, limit, 'k', 'get'))?.consumed, 3);
      assert.equal((await storeOp(store, limit, 'k', 'add', 2))?.consumed, 5);
      assert.equal((await storeOp(store, limit, 'k', 'add', -5))?.consumed, 0);
      assert.equal((await limiter.consume('k')).allowed, true);
      await limiter.refund('k');
      assert.equal(await consumeUntilRejected(limiter, 'k'), 3, 'refunds reach the insurance');
      assert.equal(fallbacks.length, 1, 'onFallback once per outage, not per call');
      assert.equal(store.status().mode, 'degraded');
      assert.match(store.status().lastError ?? '', /not ready/);
    });

    it('the Redis store alone rejects with the error, also at once', {
      timeout: 30_000,
    }, async () => {
      const limiter = createSlidingWindowLimiter(
        createRedisSlidingWindowStore(down, { keyPrefix: uniquePrefix() }),
        { points: 3, durationSec: 1 },
      );
      await assert.rejects(limiter.consume('k'), /not ready/);
    });

    it('fails fast through the client config alone (enableOfflineQueue: false)', {
      timeout: 30_000,
    }, async () => {
      const store = createFallbackSlidingWindowStore(
        createRedisSlidingWindowStore(down, { keyPrefix: uniquePrefix(), rejectIfNotReady: false }),
        createMemorySlidingWindowStore(),
      );
      const limiter = createSlidingWindowLimiter(store, { points: 3, durationSec: 1 });
      assert.equal((await limiter.consume('k')).allowed, true);
      assert.match(store.status().lastError ?? '', /enableOfflineQueue/);
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
      const store = createFallbackSlidingWindowStore(
        createRedisSlidingWindowStore(hung, { keyPrefix: uniquePrefix() }),
        createMemorySlidingWindowStore(),
      );
      const limiter = createSlidingWindowLimiter(store, { points: 1, durationSec: 1 });
      const started = performance.now();
      assert.equal((await limiter.consume('k')).allowed, true);
      // It waited for the command timeout (200 ms) and then answered; a hang would run into the
      // test's own timeout instead.
      const took = performance.now() - started;
      assert.ok(took >= 150, `answered after ${took.toFixed(0)} ms, before the command timed out`);
      assert.equal((await limiter.consume('k')).allowed, false);
      assert.match(store.status().lastError ?? '', /timed out/i);
      assert.equal(store.status().mode, 'degraded', 'ready client, failing calls');
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
      const inRedis = createRedisSlidingWindowStore(redis, { keyPrefix: uniquePrefix() });
      const store = createFallbackSlidingWindowStore(inRedis, createMemorySlidingWindowStore(), {
        onFallback: (error) => events.push(`fallback ${error instanceof Error}`),
        onRecover: () => events.push('recover'),
      });
      const limiter = createSlidingWindowLimiter(store, { points: 3, durationSec: 2 });

      await limiter.consume('ip');
      assert.equal(store.status().mode, 'redis');
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
      const status = store.status();
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
      assert.equal(store.status().mode, 'redis');
      assert.deepEqual(events, ['fallback true', 'recover']);
    });
  });
});
