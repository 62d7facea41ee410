import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { eventually } from '../../test/helpers/eventually.ts';
import { createNearSessionCache } from './createNearSessionCache.ts';
import { createMemorySessionCache } from './MemorySessionCache.ts';
import { createRedisSessionCache } from './RedisSessionCache.ts';
import type { CachedSession, SessionCache } from './SessionCache.ts';
import { sessionEntryBytes } from './sessionEntryBytes.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const TTL = 60_000;

const live = (readAt: number, roles: string[] = []): CachedSession => ({
  state: 'live',
  userId: 'u1',
  roles,
  readAt,
});

/** The contract every SessionCache keeps; run against each implementation below. */
function sessionCacheContract(name: string, make: () => SessionCache) {
  describe(`SessionCache contract: ${name}`, () => {
    let cache: SessionCache;
    before(() => {
      cache = make();
    });

    it('misses, then serves what a fill stored; a second fill does not overwrite', async () => {
      const sid = randomUUID();
      assert.equal(await cache.get(sid), null);
      await cache.fill(sid, live(1000, ['a']), TTL, 1000);
      assert.deepEqual(await cache.get(sid), live(1000, ['a']));
      await cache.fill(sid, live(2000, ['b']), TTL, 2000);
      assert.deepEqual(await cache.get(sid), live(1000, ['a']));
    });

    it('lets a revocation overwrite live, and never a fill overwrite the revocation', async () => {
      const sid = randomUUID();
      await cache.fill(sid, live(Date.now()), TTL, Date.now());
      await cache.markRevoked([sid], TTL);
      assert.deepEqual(await cache.get(sid), { state: 'revoked' });
      await cache.fill(sid, live(Date.now() + 10), TTL, Date.now() + 10);
      assert.deepEqual(await cache.get(sid), { state: 'revoked' });
    });

    it('refuses a fill of a read that began before a forget; takes one that began after', async () => {
      const sid = randomUUID();
      const readBefore = Date.now() - 1;
      await cache.fill(sid, live(readBefore, ['old']), TTL, readBefore);
      await cache.forget([sid]);
      assert.equal(await cache.get(sid), null, 'forgotten reads as a miss');
      await cache.fill(sid, live(readBefore, ['old']), TTL, readBefore);
      assert.equal(await cache.get(sid), null, 'the read from before the change is not kept');
      const readAfter = Date.now() + 1;
      await cache.fill(sid, live(readAfter, ['new']), TTL, readAfter);
      assert.deepEqual(await cache.get(sid), live(readAfter, ['new']));
    });

    it('replaces a stale entry only while it is unchanged', async () => {
      const sid = randomUUID();
      await cache.fill(sid, live(1), TTL, 1);
      const stale = await cache.get(sid);
      assert.ok(stale);
      await cache.replaceStale(sid, stale, live(5, ['fresh']), TTL);
      assert.deepEqual(await cache.get(sid), live(5, ['fresh']));

      const other = randomUUID();
      await cache.fill(other, live(1), TTL, 1);
      const seen = await cache.get(other);
      assert.ok(seen);
      await cache.markRevoked([other], TTL);
      await cache.replaceStale(other, seen, live(5), TTL);
      assert.deepEqual(await cache.get(other), { state: 'revoked' }, 'the revocation wins');
    });

    it('distrusts every live entry read before distrustLive()', async () => {
      const readAt = Date.now();
      assert.ok(cache.liveTrustedSince() <= readAt);
      cache.distrustLive();
      assert.ok(cache.liveTrustedSince() > readAt);
    });
  });
}

describe('in-process SessionCache (embedded mode): bounds and expiry', () => {
  it('keeps at most maxBytes of entries, evicting the least recently used', async () => {
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    // Room for two entries of this size, not three.
    const cache = createMemorySessionCache(2 * sessionEntryBytes(a, live(1)) + 1);
    await cache.fill(a, live(1), TTL, 1);
    await cache.fill(b, live(1), TTL, 1);
    assert.ok(await cache.get(a), 'a is now more recently used than b');
    await cache.fill(c, live(1), TTL, 1);
    assert.ok(await cache.get(a));
    assert.equal(await cache.get(b), null, 'b was evicted');
    assert.ok(await cache.get(c));
  });

  it('drops an entry once its ttl is over; one whose ttl is already over is not kept', async () => {
    const cache = createMemorySessionCache();
    const sid = randomUUID();
    await cache.fill(sid, live(1), 1, 1);
    await eventually(
      () => cache.get(sid),
      (value) => value === null,
      { what: 'the entry expired' },
    );
    const other = randomUUID();
    await cache.fill(other, live(1), TTL, 1);
    await cache.markRevoked([other], 0);
    assert.equal(await cache.get(other), null, 'a mark for 0 ms leaves a miss behind');
  });
});

const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
const prefix = () => `ghtest:cache:${randomBytes(4).toString('hex')}:`;
after(() => redis.disconnect());

sessionCacheContract('in-process (embedded mode)', () => createMemorySessionCache());
sessionCacheContract('Redis', () => createRedisSessionCache(redis, prefix()));
sessionCacheContract('in-process layer over Redis', () =>
  createNearSessionCache(createRedisSessionCache(redis, prefix()), 60_000),
);
