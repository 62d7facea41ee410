import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import { RateLimiterRes } from 'rate-limiter-flexible';
import { MemorySlidingWindowRateLimiter } from './MemorySlidingWindowRateLimiter.ts';
import { SlidingWindowRateLimiter } from './SlidingWindowRateLimiter.ts';
import {
  consumeUntilRejected,
  fakeClock,
  type Outcome,
  outcome,
  slidingWindowContract,
  WINDOW_START,
} from './slidingWindowContract.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A client configured like the request path's: fails fast instead of queueing while down. */
function fastFailingClient(url: string, options: RedisOptions = {}): Redis {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 200,
    connectTimeout: 500,
    retryStrategy: () => 50,
    ...options,
  });
  client.on('error', () => {}); // reconnect noise; the limiter sees failures on its calls
  return client;
}

function whenReady(client: Redis, timeoutMs = 2000): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('client not ready in time')), timeoutMs);
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** The hash tag Redis Cluster hashes: from the first `{` to the next `}`, if not empty. */
function hashTagOf(key: string): string | null {
  const open = key.indexOf('{');
  if (open === -1) return null;
  const close = key.indexOf('}', open + 1);
  if (close === -1 || close === open + 1) return null;
  return key.slice(open + 1, close);
}

/** Deterministic PRNG (mulberry32), so a failing sequence can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('SlidingWindowRateLimiter', () => {
  let redis: Redis;
  const prefixes: string[] = [];

  const uniquePrefix = (): string => {
    const prefix = `swtest-${randomUUID()}`;
    prefixes.push(prefix);
    return prefix;
  };

  const keysOf = async (prefix: string): Promise<string[]> => {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    return keys;
  };

  before(async () => {
    redis = fastFailingClient(REDIS_URL);
    await whenReady(redis);
  });

  afterEach(async () => {
    for (const prefix of prefixes.splice(0)) {
      const keys = await keysOf(prefix);
      if (keys.length > 0) await redis.del(...keys);
    }
  });

  after(async () => {
    await redis.quit();
  });

  describe('contract (clock passed to the script)', () => {
    slidingWindowContract((options, now) => {
      prefixes.push(options.keyPrefix);
      return new SlidingWindowRateLimiter({ ...options, storeClient: redis, now });
    });
  });

  it('computes exactly what the in-process limiter computes (the Lua mirrors the TS)', async () => {
    const clock = fakeClock(WINDOW_START);
    const options = { points: 5, duration: 1, blockDuration: 2, keyPrefix: uniquePrefix() };
    const inRedis = new SlidingWindowRateLimiter({
      ...options,
      storeClient: redis,
      now: clock.now,
    });
    const inProcess = new MemorySlidingWindowRateLimiter({ ...options, now: clock.now });
    const next = random(20261101);
    const pick = (n: number) => Math.floor(next() * n);
    const kinds = ['consume', 'consume', 'consume', 'penalty', 'reward', 'get', 'block', 'set'];
    const steps = Array.from({ length: 500 }, () => ({
      // Steps of 50 ms keep every live key at least 50 ms (real time) away from its Redis TTL,
      // so only the fake clock decides what has expired.
      advance: 50 * pick(12),
      key: `k${pick(3)}`,
      kind: kinds[pick(kinds.length)],
      points: 1 + pick(4),
    }));
    const run = (
      limiter: SlidingWindowRateLimiter | MemorySlidingWindowRateLimiter,
      step: (typeof steps)[number],
    ) => {
      switch (step.kind) {
        case 'consume':
          return outcome(limiter.consume(step.key, step.points));
        case 'penalty':
          return outcome(limiter.penalty(step.key, step.points));
        case 'reward':
          return outcome(limiter.reward(step.key, step.points));
        case 'block':
          return outcome(limiter.block(step.key, step.points));
        case 'set':
          return outcome(limiter.set(step.key, step.points, 1));
        default:
          return limiter.get(step.key).then((res) => res?.toJSON() ?? null);
      }
    };
    const seen = new Set<string>();
    for (const [index, step] of steps.entries()) {
      clock.set(clock.now() + step.advance);
      const fromRedis = await run(inRedis, step);
      const fromProcess = await run(inProcess, step);
      assert.deepEqual(fromRedis, fromProcess, `step ${index}: ${JSON.stringify(step)}`);
      seen.add(
        `${step.kind}:${fromRedis === null ? 'null' : 'allowed' in fromRedis ? fromRedis.allowed : 'res'}`,
      );
    }
    // The sequence really went through rejections, nulls and every operation.
    for (const expected of [
      'consume:true',
      'consume:false',
      'get:null',
      'get:res',
      'reward:true',
    ]) {
      assert.ok(seen.has(expected), `sequence never produced ${expected}`);
    }
  });

  it('sets a TTL on every key and keeps all keys of one limiter key under one hash tag', async () => {
    const keyPrefix = uniquePrefix();
    const limiter = new SlidingWindowRateLimiter({
      storeClient: redis,
      points: 3,
      duration: 1,
      keyPrefix,
    });
    const clientKeys = ['plain', 'a}b{c', '}', '%7D', 'user@example.com'];
    for (const key of clientKeys) {
      await limiter.consume(key);
      await limiter.penalty(key, 1);
    }
    await limiter.block('plain', 5);
    await limiter.set('user@example.com', 1, 3);

    // block()/set() replace the window with a pinned count, so those two keys only have `:b`.
    const expected = clientKeys.map((key) => {
      const keys = limiter.storeKeys(key);
      return key === 'plain' || key === 'user@example.com' ? keys.block : keys.window;
    });
    const stored = await keysOf(keyPrefix);
    assert.deepEqual(stored.toSorted(), expected.toSorted());
    for (const key of stored) {
      const ttl = await redis.pttl(key);
      assert.ok(ttl > 0 && ttl <= 5000, `${key} has PTTL ${ttl}`);
    }
    const tags = new Set<string>();
    for (const key of clientKeys) {
      const { window, block } = limiter.storeKeys(key);
      const tag = hashTagOf(window);
      assert.ok(window.startsWith(`${keyPrefix}:{`), `${window} starts with the limiter prefix`);
      assert.ok(tag !== null && tag !== '', `${window} has a hash tag`);
      assert.equal(hashTagOf(block), tag, 'window and block key hash to the same slot');
      tags.add(tag ?? '');
    }
    assert.equal(tags.size, clientKeys.length, "distinct keys never share a tag ('}' vs '%7D')");
  });

  it('uses Redis TIME by default: no double burst across a real window edge', async () => {
    const limiter = new SlidingWindowRateLimiter({
      storeClient: redis,
      points: 10,
      duration: 1,
      keyPrefix: uniquePrefix(),
    });
    const redisNow = async () => {
      const [seconds, micros] = await redis.time();
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    };
    // Spend everything in the last 150 ms of a window...
    let now = await redisNow();
    await sleep((850 - (now % 1000) + 1000) % 1000);
    assert.equal(await consumeUntilRejected(limiter, 'k'), 10);
    // ...then early in the next window only the part of the old window that has aged out is free
    // (10 * elapsed / 1000 points), never a second full burst. Bounds come from Redis TIME
    // measured around the burst, so a slow machine widens them instead of failing the test.
    now = await redisNow();
    await sleep(1000 - (now % 1000) + 150);
    const before = (await redisNow()) % 1000;
    const allowed = await consumeUntilRejected(limiter, 'k');
    const after = (await redisNow()) % 1000;
    assert.ok(after >= before, 'still in the same window (the burst took under a second)');
    assert.ok(allowed >= Math.floor((10 * before) / 1000), `allowed ${allowed} at ${before} ms`);
    assert.ok(allowed <= Math.ceil((10 * after) / 1000), `allowed ${allowed} at ${after} ms`);
    assert.ok(allowed < 10, 'no double burst at the edge');
    const rejected = await outcome(limiter.consume('k'));
    assert.equal(rejected.allowed, false);
    assert.ok(rejected.msBeforeNext > 0 && rejected.msBeforeNext <= 1000);
  });

  describe('when Redis is unreachable', () => {
    let down: Redis;
    before(() => {
      // Port 1 refuses connections: the client never becomes ready. The command timeout is far
      // beyond each test's own timeout, so answering at all proves nothing waited on a timer:
      // these tests need no clock to show "fast".
      down = fastFailingClient('redis://127.0.0.1:1', { commandTimeout: 120_000 });
    });
    after(() => down.disconnect());

    it('falls back to the insurance limiter at once, which still enforces the limit', {
      timeout: 30_000,
    }, async () => {
      const fallbacks: unknown[] = [];
      const keyPrefix = uniquePrefix();
      const limiter = new SlidingWindowRateLimiter({
        storeClient: down,
        points: 3,
        duration: 1,
        keyPrefix,
        insuranceLimiter: new MemorySlidingWindowRateLimiter({ points: 3, duration: 1, keyPrefix }),
        onFallback: (error) => fallbacks.push(error),
      });
      const results: Outcome[] = [];
      for (let i = 0; i < 5; i++) results.push(await outcome(limiter.consume('k')));
      assert.deepEqual(
        results.map((r) => r.allowed),
        [true, true, true, false, false],
      );
      assert.ok(results[3] !== undefined && results[3].msBeforeNext > 0);
      assert.equal((await limiter.get('k'))?.consumedPoints, 3);
      assert.equal((await outcome(limiter.penalty('k', 2))).consumed, 5);
      assert.equal((await outcome(limiter.reward('k', 5))).consumed, 0);
      assert.equal((await outcome(limiter.block('k', 1))).msBeforeNext, 1000);
      assert.equal((await outcome(limiter.consume('k'))).allowed, false);
      assert.equal(await limiter.delete('k'), true);
      assert.equal(fallbacks.length, 1, 'onFallback once per outage, not per call');
      assert.equal(limiter.storeHealth().healthy, false);
      assert.match(limiter.storeHealth().lastError ?? '', /not ready/);
    });

    it('without an insurance limiter rejects with the error, also at once', {
      timeout: 30_000,
    }, async () => {
      const limiter = new SlidingWindowRateLimiter({
        storeClient: down,
        points: 3,
        duration: 1,
        keyPrefix: uniquePrefix(),
      });
      await assert.rejects(limiter.consume('k'), (error) => !(error instanceof RateLimiterRes));
    });

    it('fails fast through the client config alone (enableOfflineQueue: false)', {
      timeout: 30_000,
    }, async () => {
      const keyPrefix = uniquePrefix();
      const limiter = new SlidingWindowRateLimiter({
        storeClient: down,
        points: 3,
        duration: 1,
        keyPrefix,
        rejectIfRedisNotReady: false,
        insuranceLimiter: new MemorySlidingWindowRateLimiter({ points: 3, duration: 1, keyPrefix }),
      });
      assert.equal((await outcome(limiter.consume('k'))).allowed, true);
      assert.match(limiter.storeHealth().lastError ?? '', /enableOfflineQueue/);
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
      const keyPrefix = uniquePrefix();
      const limiter = new SlidingWindowRateLimiter({
        storeClient: hung,
        points: 1,
        duration: 1,
        keyPrefix,
        insuranceLimiter: new MemorySlidingWindowRateLimiter({ points: 1, duration: 1, keyPrefix }),
      });
      const started = performance.now();
      assert.equal((await outcome(limiter.consume('k'))).allowed, true);
      // It waited for the command timeout (200 ms) and then answered; a hang would run into the
      // test's own timeout instead.
      const took = performance.now() - started;
      assert.ok(took >= 150, `answered after ${took.toFixed(0)} ms, before the command timed out`);
      assert.equal((await outcome(limiter.consume('k'))).allowed, false);
      assert.match(limiter.storeHealth().lastError ?? '', /timed out/i);
    } finally {
      hung.disconnect();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
