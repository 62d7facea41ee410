import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { eventually } from '../../test/helpers/eventually.ts';
import { fastFailingClient, whenReady } from '../../test/helpers/fastFailingRedis.ts';
import type { SlidingWindowOperation } from './applySlidingWindow.ts';
import { createMemorySlidingWindowStore } from './createMemorySlidingWindowStore.ts';
import {
  createRedisSlidingWindowLimiter,
  createRedisSlidingWindows,
  SLIDING_WINDOW_LUA,
  slidingWindowKey,
  TAG_SEPARATOR,
} from './createRedisSlidingWindowLimiter.ts';
import type { SlidingWindowLimit } from './createSlidingWindowLimiter.ts';
import type { SlidingWindowStore } from './SlidingWindowStore.ts';
import {
  consumeUntilRejected,
  fakeClock,
  slidingWindowContract,
  storeOp,
  WINDOW_START,
} from './slidingWindowContract.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The hash tag Redis Cluster hashes: from the first `{` to the next `}`, if not empty. */
function hashTagOf(key: string): string | null {
  const open = key.indexOf('{');
  if (open === -1) return null;
  const close = key.indexOf('}', open + 1);
  if (close === -1 || close === open + 1) return null;
  return key.slice(open + 1, close);
}

/**
 * The production script as a store: evaluated with the arguments rate-limiter-flexible passes
 * (points, whole seconds, limit, seconds) plus the two it never passes, the clock (`now`; Redis
 * TIME without it) and the operation, so the contract's window math runs on Redis without
 * waiting on time, and tests can read a key.
 */
function scriptStore(client: Redis, keyPrefix: string, now?: () => number): SlidingWindowStore {
  return {
    async apply(key, request) {
      const reply = (await client.eval(
        SLIDING_WINDOW_LUA,
        1,
        slidingWindowKey(keyPrefix, key),
        String(request.points),
        String(Math.floor(request.windowMs / 1000)),
        String(request.limit),
        String(request.windowMs / 1000),
        now === undefined ? '' : String(Math.floor(now())),
        request.operation,
      )) as [consumed: number, msBeforeNext: number] | null;
      return reply === null ? null : { consumed: reply[0], msBeforeNext: reply[1] };
    },
  };
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

describe('createRedisSlidingWindowLimiter', () => {
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

  describe('contract (the script on Redis, clock passed to it)', () => {
    slidingWindowContract((keyPrefix, now) => {
      prefixes.push(keyPrefix);
      return scriptStore(redis, keyPrefix, now);
    });
  });

  it('computes exactly what the in-process store computes (the Lua mirrors the TS)', async () => {
    const clock = fakeClock(WINDOW_START);
    const limit = { points: 5, durationSec: 1 };
    const inRedis = scriptStore(redis, uniquePrefix(), clock.now);
    const inProcess = createMemorySlidingWindowStore({ now: clock.now });
    const next = random(20261101);
    const pick = (n: number) => Math.floor(next() * n);
    const kinds: [SlidingWindowOperation, sign: number][] = [
      ['consume', 1],
      ['consume', 1],
      ['consume', 1],
      ['add', 1],
      ['add', -1],
      ['get', 0],
    ];
    const steps = Array.from({ length: 500 }, () => {
      const [operation, sign] = kinds[pick(kinds.length)] ?? ['get', 0];
      return {
        // Steps of 50 ms keep every live key at least 50 ms (real time) away from its Redis TTL,
        // so only the fake clock decides what has expired.
        advance: 50 * pick(12),
        key: `k${pick(3)}`,
        operation,
        points: sign * (1 + pick(4)),
      };
    });
    const seen = new Set<string>();
    for (const [index, step] of steps.entries()) {
      clock.set(clock.now() + step.advance);
      const fromRedis = await storeOp(inRedis, limit, step.key, step.operation, step.points);
      const fromProcess = await storeOp(inProcess, limit, step.key, step.operation, step.points);
      assert.deepEqual(fromRedis, fromProcess, `step ${index}: ${JSON.stringify(step)}`);
      const sign = step.points < 0 ? '-' : '+';
      seen.add(
        `${step.operation}${step.operation === 'add' ? sign : ''}:${
          fromRedis === null ? 'null' : fromRedis.consumed <= limit.points
        }`,
      );
    }
    // The sequence really went through rejections, nulls and every operation.
    for (const expected of [
      'consume:true',
      'consume:false',
      'get:null',
      'get:true',
      'add+:false',
      'add-:true',
    ]) {
      assert.ok(seen.has(expected), `sequence never produced ${expected}`);
    }
  });

  it('spends several windows in one script, all or nothing, as the in-process windows would', async () => {
    // The oracle: the in-process store consumes each window; when one refuses, the others are
    // given their point back (an exact inverse: a consume adds to the current bucket, the refund
    // takes it from there). The script must answer the same and leave the same counts, which the
    // next steps' replies check.
    const clock = fakeClock(WINDOW_START);
    const keyPrefix = uniquePrefix();
    // The subject's window is shared by both of its second windows, which are tighter.
    const limits = [
      { points: 3, durationSec: 2 },
      { points: 1, durationSec: 1 },
    ];
    const windows = createRedisSlidingWindows(redis);
    const inProcess = createMemorySlidingWindowStore({ now: clock.now });
    const next = random(20261207);
    const pick = (n: number) => Math.floor(next() * n);
    const outcomes = new Set<string>();
    for (let step = 0; step < 400; step++) {
      clock.set(clock.now() + 50 * pick(8));
      const subject = `s${pick(2)}`;
      const [first, second] = limits as [SlidingWindowLimit, SlidingWindowLimit];
      const spends = [
        { keyPrefix, key: subject, limit: first },
        { keyPrefix, key: `${subject}${TAG_SEPARATOR}x${pick(2)}`, limit: second },
      ];
      const expected = [];
      for (const { key, limit } of spends) {
        expected.push(await storeOp(inProcess, limit, key, 'consume', 1));
      }
      const fits = expected.map((r, i) => (r?.consumed ?? 0) <= (spends[i]?.limit.points ?? 0));
      const allowed = fits.every(Boolean);
      if (!allowed) {
        for (const [i, { key, limit }] of spends.entries()) {
          if (!fits[i]) continue;
          await storeOp(inProcess, limit, key, 'add', -1);
          expected[i] = { consumed: 0, msBeforeNext: 0 };
        }
      }
      const got = await windows.consume(spends, clock.now());
      assert.equal(got.allowed, allowed, `step ${step}`);
      assert.deepEqual(
        got.decisions.map((d) => ({ consumed: d.consumed, msBeforeNext: d.msBeforeNext })),
        expected,
        `step ${step}: ${spends.map((w) => w.key).join(', ')}`,
      );
      outcomes.add(allowed ? 'allowed' : got.decisions.map((d) => d.allowed).join('/'));
    }
    // The sequence went through every kind of answer: both fit, either one or both refusing.
    assert.deepEqual([...outcomes].toSorted(), [
      'allowed',
      'false/false',
      'false/true',
      'true/false',
    ]);
  });

  it("keeps `<tag>|<rest>` keys under their tag: one slot for one subject's windows", async () => {
    const keyPrefix = uniquePrefix();
    const limit = { points: 3, durationSec: 60 };
    const account = createRedisSlidingWindowLimiter(redis, limit, { keyPrefix: `${keyPrefix}:a` });
    const accountSource = createRedisSlidingWindowLimiter(redis, limit, {
      keyPrefix: `${keyPrefix}:b`,
    });
    assert.equal(account.keyOf('login:abc'), `${keyPrefix}:a:{login:abc}:w`);
    assert.equal(
      accountSource.keyOf('login:abc|10.0.0.1'),
      `${keyPrefix}:b:{login:abc}|10.0.0.1:w`,
    );
    assert.equal(hashTagOf(accountSource.keyOf('login:abc|10.0.0.1')), 'login:abc');
    // Still injective: a tag's `}` is escaped, and a key without the separator ends its tag at `}:`.
    assert.notEqual(accountSource.keyOf('a}|b'), accountSource.keyOf('a|}b'));
    assert.equal(hashTagOf(accountSource.keyOf('a}|b')), 'a%7D');
    // Both spent in one script; the key through the library is the key the script wrote.
    const windows = createRedisSlidingWindows(redis);
    const spent = await windows.consume([
      { keyPrefix: `${keyPrefix}:a`, key: 'login:abc', limit },
      { keyPrefix: `${keyPrefix}:b`, key: 'login:abc|10.0.0.1', limit },
    ]);
    assert.equal(spent.allowed, true);
    assert.deepEqual(
      spent.decisions.map((d) => [d.consumed, d.remaining]),
      [
        [1, 2],
        [1, 2],
      ],
    );
    const again = await accountSource.consume('login:abc|10.0.0.1');
    assert.equal(again.consumed, 2, 'RateLimiterRedis sees the point the script counted');
  });

  it('sets a TTL on every key and keeps each limiter key under its own hash tag', async () => {
    const keyPrefix = uniquePrefix();
    const limit = { points: 3, durationSec: 1 };
    const limiter = createRedisSlidingWindowLimiter(redis, limit, { keyPrefix });
    const store = scriptStore(redis, keyPrefix);
    const clientKeys = ['plain', 'a}b{c', '}', '%7D', 'user@example.com'];
    for (const key of clientKeys) {
      await limiter.consume(key);
      await storeOp(store, limit, key, 'add', 1);
    }

    const stored = await keysOf(keyPrefix);
    assert.deepEqual(stored.toSorted(), clientKeys.map((key) => limiter.keyOf(key)).toSorted());
    for (const key of stored) {
      const ttl = await redis.pttl(key);
      assert.ok(ttl > 0 && ttl <= 2000, `${key} has PTTL ${ttl}`);
    }
    const tags = new Set<string>();
    for (const key of clientKeys) {
      const window = limiter.keyOf(key);
      const tag = hashTagOf(window);
      assert.ok(window.startsWith(`${keyPrefix}:{`), `${window} starts with the store prefix`);
      assert.ok(window.endsWith(':w'), `${window} is the window key`);
      assert.ok(tag !== null && tag !== '', `${window} has a hash tag`);
      tags.add(tag ?? '');
    }
    assert.equal(tags.size, clientKeys.length, "distinct keys never share a tag ('}' vs '%7D')");
  });

  it('uses Redis TIME by default: no double burst across a real window edge', async () => {
    const limiter = createRedisSlidingWindowLimiter(
      redis,
      { points: 10, durationSec: 1 },
      { keyPrefix: uniquePrefix() },
    );
    const redisNow = async () => {
      const [seconds, micros] = await redis.time();
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    };
    // Redis's clock decides the window edges, so the test waits on it (polling TIME), never for
    // a computed duration. A run whose timing preconditions a busy machine broke (the burst
    // crossed an edge, or the second phase began a window too late) is tried again on a new key.
    const atRedisTime = (ready: (ms: number) => boolean, what: string) =>
      eventually(redisNow, ready, { intervalMs: 2, what });
    for (let attempt = 1; ; attempt++) {
      const key = `k${attempt}`;
      // Spend everything in the last 150 ms of one window...
      const burstStart = await atRedisTime((t) => t % 1000 >= 850, 'the last 150 ms of a window');
      const window = Math.floor(burstStart / 1000);
      assert.equal(await consumeUntilRejected(limiter, key), 10);
      if (Math.floor((await redisNow()) / 1000) !== window) {
        assert.ok(attempt < 5, 'the burst of 10 calls never fit in 150 ms of one window');
        continue;
      }
      // ...then early in the next window only the part of the old window that has aged out is
      // free (10 * elapsed / 1000 points), never a second full burst. Bounds come from Redis
      // TIME measured around the burst, so a slow machine widens them instead of failing.
      await atRedisTime((t) => t >= (window + 1) * 1000 + 150, '150 ms into the next window');
      const beforeAt = await redisNow();
      const allowed = await consumeUntilRejected(limiter, key);
      const afterAt = await redisNow();
      if (Math.floor(afterAt / 1000) !== window + 1 || Math.floor(beforeAt / 1000) !== window + 1) {
        assert.ok(attempt < 5, 'the second phase never stayed within the next window');
        continue;
      }
      const before = beforeAt % 1000;
      const after = afterAt % 1000;
      assert.ok(allowed >= Math.floor((10 * before) / 1000), `allowed ${allowed} at ${before} ms`);
      assert.ok(allowed <= Math.ceil((10 * after) / 1000), `allowed ${allowed} at ${after} ms`);
      assert.ok(allowed < 10, 'no double burst at the edge');
      const rejected = await limiter.consume(key);
      assert.equal(rejected.allowed, false);
      assert.ok(rejected.msBeforeNext > 0 && rejected.msBeforeNext <= 1000);
      break;
    }
  });
  it('through RateLimiterRedis on real time: consume to the limit, a refusal not counted, a refund', async () => {
    // A day-long window: the calls below do not cross a window edge (and would hold if they did).
    const keyPrefix = uniquePrefix();
    const limit = { points: 3, durationSec: 86_400 };
    const limiter = createRedisSlidingWindowLimiter(redis, limit, { keyPrefix });
    const read = () => storeOp(scriptStore(redis, keyPrefix), limit, 'k', 'get');
    for (let i = 1; i <= 3; i++) {
      const res = await limiter.consume('k');
      assert.equal(res.allowed, true);
      assert.equal(res.consumed, i);
      assert.equal(res.remaining, 3 - i);
      assert.ok(res.msBeforeNext > 0);
    }
    const refused = await limiter.consume('k');
    assert.equal(refused.allowed, false);
    assert.equal(refused.consumed, 4);
    assert.equal(refused.remaining, 0);
    assert.ok(refused.msBeforeNext > 0 && refused.msBeforeNext <= 2 * 86_400_000);
    assert.equal((await read())?.consumed, 3, 'the refused point is not counted');
    assert.equal((await limiter.consume('k')).allowed, false);
    assert.equal((await read())?.consumed, 3, 'retrying early does not count either');

    await limiter.refund('k');
    assert.equal((await read())?.consumed, 2, 'the refund gave one back');
    const again = await limiter.consume('k');
    assert.equal(again.allowed, true);
    assert.equal(again.consumed, 3);
    assert.equal((await limiter.consume('k')).allowed, false);

    // The library's key: its `<keyPrefix>:` in front of `{k}:w`, today's name, hash tag included.
    assert.deepEqual(await keysOf(keyPrefix), [`${keyPrefix}:{k}:w`]);
    assert.equal(limiter.keyOf('k'), `${keyPrefix}:{k}:w`);
    assert.equal(await redis.type(`${keyPrefix}:{k}:w`), 'hash');
    assert.deepEqual((await redis.hkeys(`${keyPrefix}:{k}:w`)).toSorted(), ['c', 'e', 'p', 's']);
    const ttl = await redis.pttl(`${keyPrefix}:{k}:w`);
    assert.ok(ttl > 0 && ttl <= 2 * 86_400_000, `PTTL ${ttl}`);
  });

  it('refuses a window under a second (the library would skip the script)', () => {
    assert.throws(
      () =>
        createRedisSlidingWindowLimiter(
          redis,
          { points: 3, durationSec: 0.5 },
          { keyPrefix: uniquePrefix() },
        ),
      RangeError,
    );
  });
});
