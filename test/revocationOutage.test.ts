import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { eventually } from './helpers/eventually.ts';
import { RedisServer } from './helpers/redisServer.ts';
import { expectRpcError } from './helpers/rpcError.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { registerUser } from './helpers/users.ts';

/**
 * A revocation made while Redis is unreachable must win over the "live" entry Redis still holds
 * when it comes back with old data (a restored snapshot, a healed partition, a promoted replica).
 */
describe('revocation across a Redis outage', () => {
  let server: RedisServer;
  let gh: Gatehouse;
  before(async () => {
    server = await RedisServer.start();
    // No in-process layer: every validation reads Redis, so nothing here passes by an entry of
    // this process expiring or surviving.
    gh = await startGatehouse({ REDIS_URL: server.url, SESSION_CACHE_LOCAL_TTL_MS: '0' });
  });
  after(async () => {
    await gh.stop();
    await server.stop();
  });

  it('keeps a session revoked during the outage revoked when the old cache entry returns', async () => {
    const user = await registerUser(gh);
    const accessToken = user.tokens.accessToken;
    const validate = async () => (await call(gh.auth, 'validateToken', { accessToken })).active;
    assert.equal(await validate(), true, 'cached as live');
    const key = `${gh.redisKeyPrefix}sess:${user.tokens.sessionId}`;
    const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
    redis.on('error', () => {});
    let snapshot: Buffer | null;
    try {
      snapshot = await redis.getBuffer(key);
      assert.ok(snapshot !== null && snapshot.toString() !== 'r', 'Redis holds a live entry');
      snapshot = await redis.dumpBuffer(key);
    } finally {
      redis.disconnect();
    }

    await server.stop();
    await call(gh.auth, 'logout', {}, { token: accessToken });
    assert.equal(await validate(), false, 'revoked while Redis is down (PostgreSQL answers)');

    // Redis returns, and so does the pre-outage "live" entry, with a fresh lifetime.
    await server.start();
    const restored = new Redis(server.url, { maxRetriesPerRequest: 1 });
    restored.on('error', () => {});
    try {
      await restored.restore(key, 60_000, snapshot);
      // Wait until Gatehouse reads Redis again: it then finds the old entry, checks it against
      // PostgreSQL, and overwrites it with the revoked marker. Not once may it say active.
      await eventually(
        async () => {
          assert.equal(await validate(), false, 'the restored live entry revived the session');
          return restored.get(key);
        },
        (value) => value === 'r',
        { what: 'the restored entry replaced by the revoked marker' },
      );
      for (let i = 0; i < 30; i += 1) assert.equal(await validate(), false);
      await expectRpcError(
        call(gh.auth, 'getCurrentUser', {}, { token: accessToken }),
        status.UNAUTHENTICATED,
        'INVALID_ACCESS_TOKEN',
      );
    } finally {
      restored.disconnect();
    }
  });

  it('keeps live sessions live across the outage, re-read from PostgreSQL once', async () => {
    const user = await registerUser(gh);
    const accessToken = user.tokens.accessToken;
    const validate = async () => (await call(gh.auth, 'validateToken', { accessToken })).active;
    assert.equal(await validate(), true);
    await server.stop();
    assert.equal(await validate(), true, 'PostgreSQL answers while Redis is down');
    await server.start();
    const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
    redis.on('error', () => {});
    try {
      const key = `${gh.redisKeyPrefix}sess:${user.tokens.sessionId}`;
      const entry = await eventually(
        async () => {
          assert.equal(await validate(), true);
          return redis.get(key);
        },
        (value) => value !== null,
        { what: 'the session cached in Redis again' },
      );
      assert.notEqual(entry, 'r');
    } finally {
      redis.disconnect();
    }
  });
});
