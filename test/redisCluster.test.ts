import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { createLogger } from '../src/log.ts';
import { createRateLimitBudgets } from '../src/ratelimit/createRateLimitBudgets.ts';
import { createRedis } from '../src/redis/createRedis.ts';
import {
  onRedisTopologyChange,
  type RedisTopologyChange,
} from '../src/redis/onRedisTopologyChange.ts';
import { watchSlotMaster } from '../src/redis/watchSlotMaster.ts';
import { createRedisSessionCache } from '../src/sessions/RedisSessionCache.ts';
import { eventually } from './helpers/eventually.ts';
import { haveRedisServer, RedisCluster, redisCli } from './helpers/redisCluster.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { createTestDatabase, type TestDatabase } from './helpers/testDatabase.ts';
import { PASSWORD, registerUser, uniqueEmail } from './helpers/users.ts';

const skip = (await haveRedisServer())
  ? false
  : 'redis-server and redis-cli are not installed (scripts/setup-ci-services.sh installs them)';

const ACCOUNT_POINTS = 6;

/** The session id (`sid` claim) of an access token. */
function sessionOf(accessToken: string): string {
  const payload = accessToken.split('.')[1] ?? '';
  return (JSON.parse(Buffer.from(payload, 'base64url').toString()) as { sid: string }).sid;
}

const active = async (gh: Gatehouse, accessToken: string) =>
  (await call(gh.auth, 'validateToken', { accessToken })).active;

/** 'PASSED' when the call got past the limiter (to the password check), 'LIMITED' when refused. */
async function loginOutcome(gh: Gatehouse, identifier: string): Promise<'PASSED' | 'LIMITED'> {
  try {
    await call(gh.auth, 'login', { identifier, password: 'definitely-wrong-pw' });
    return 'PASSED';
  } catch (error) {
    const code = (error as { code: number }).code;
    if (code === status.RESOURCE_EXHAUSTED) return 'LIMITED';
    if (code === status.UNAUTHENTICATED) return 'PASSED';
    throw error;
  }
}

describe('two Gatehouse instances on a Redis Cluster (3 masters, 3 replicas)', { skip }, () => {
  let cluster: RedisCluster;
  let db: TestDatabase;
  let a: Gatehouse;
  let b: Gatehouse;
  let keyPrefix: string;

  /** A client of the test's cluster (fail-fast, as the app makes it), once it is ready. */
  async function readyClusterClient() {
    const client = createRedis(cluster.url, 500, createLogger('silent'));
    await eventually(
      async () => client.status,
      (s) => s === 'ready',
      { what: 'the cluster client ready' },
    );
    return client;
  }

  before(async () => {
    cluster = await RedisCluster.start(3, 2000);
    db = await createTestDatabase();
    keyPrefix = `ghcluster:${randomBytes(4).toString('hex')}:`;
    const env = {
      REDIS_URL: cluster.url,
      REDIS_KEY_PREFIX: keyPrefix,
      // The per-account login budget: cheap to exhaust, and other accounts keep theirs.
      RATE_LIMIT_ACCOUNT_POINTS: String(ACCOUNT_POINTS),
      RATE_LIMIT_ACCOUNT_WINDOW_SEC: '600',
    };
    a = await startGatehouse(env, db);
    b = await startGatehouse(env, db);
  });

  after(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
    await cluster?.stop();
  });

  it('spends one rate budget: calls spread over both instances are refused together at the limit', async () => {
    const account = uniqueEmail('limited');
    const outcomes: string[] = [];
    for (let i = 0; i < ACCOUNT_POINTS; i++) {
      outcomes.push(await loginOutcome(i % 2 === 0 ? a : b, account));
    }
    assert.deepEqual(outcomes, Array(ACCOUNT_POINTS).fill('PASSED'));
    // Each instance has let through only half the budget itself: in-process limits would pass.
    assert.equal(await loginOutcome(a, account), 'LIMITED');
    assert.equal(await loginOutcome(b, account), 'LIMITED');
    assert.equal(await loginOutcome(b, uniqueEmail()), 'PASSED', 'another account has its own');
    // The budget is one hash-tagged key in the cluster: count the account budgets there.
    const keys = [];
    for (const node of cluster.running) {
      keys.push(
        ...(await redisCli(node.port, '--scan', '--pattern', `${keyPrefix}rl:account:*`))
          .split('\n')
          .filter((k) => k !== ''),
      );
    }
    assert.ok(keys.length >= 2 && keys.every((k) => /:\{login:[^}]+\}:w$/.test(k)), keys.join());
  });

  it("spends a call's limits in one script on the cluster: each pair of keys shares a slot", async () => {
    const client = await readyClusterClient();
    const lines: string[] = [];
    const sink = new PassThrough();
    sink.on('data', (d) => lines.push(String(d)));
    const own = `${keyPrefix}script:`;
    const limit = (points: number) => ({ points, windowSec: 600 });
    const limits = createRateLimitBudgets(
      client,
      own,
      {
        ipRead: limit(100),
        ipCredential: limit(100),
        account: limit(5),
        accountIp: limit(1),
        apiKey: limit(100),
      },
      createLogger('warn', 'json', sink),
    );
    try {
      await limits.admitSource('credential', '192.0.2.9');
      await limits.admitAccount('login', 'pair@example.com', '192.0.2.9');
      await assert.rejects(limits.admitAccount('login', 'pair@example.com', '192.0.2.9'), {
        reason: 'RATE_LIMITED',
      });
      assert.equal(limits.status(), 'redis');
      assert.deepEqual(lines, [], 'no script refused by the cluster (CROSSSLOT), no fallback');
      // Every node is scanned (replicas hold copies): each key once.
      const scans = await Promise.all(
        cluster.running.map((node) => redisCli(node.port, '--scan', '--pattern', `${own}*`)),
      );
      const keys = [...new Set(scans.flatMap((out) => out.split('\n')).filter((k) => k !== ''))];
      assert.equal(keys.length, 4, keys.join());
      const slot = async (key: string) =>
        Number(await redisCli(cluster.running[0]?.port ?? 0, 'CLUSTER', 'KEYSLOT', key));
      for (const kind of ['source', 'account']) {
        const pair = keys.filter((k) => k.includes(':rl:ip_') === (kind === 'source'));
        assert.equal(pair.length, 2, `${kind}: ${pair.join()}`);
        const [first, second] = await Promise.all(pair.map(slot));
        assert.equal(first, second, `${kind} keys share a slot: ${pair.join()}`);
      }
      // The refused admission counted nothing: the account budget holds the first call's point.
      const accountKey = keys.find((k) => k.includes(':rl:account:')) ?? '';
      assert.equal(await client.hget(accountKey, 'c'), '1');
    } finally {
      client.disconnect();
    }
  });

  it('makes a logout on one instance visible to ValidateToken on the other', async (t) => {
    const user = await registerUser(a);
    const token = user.tokens.accessToken;
    assert.equal(await active(b, token), true);
    assert.equal(await active(a, token), true);
    const logoutStart = performance.now();
    await call(a.auth, 'logout', {}, { token });
    const start = performance.now();
    let polls = 0;
    await eventually(
      async () => {
        polls += 1;
        return active(b, token);
      },
      (isActive) => !isActive,
      { timeoutMs: 10_000, what: 'the logged-out session inactive on the other instance' },
    );
    const end = performance.now();
    t.diagnostic(
      `revocation visible on the other instance ${(end - start).toFixed(1)} ms after Logout ` +
        `returned, ${(end - logoutStart).toFixed(1)} ms after it was sent ` +
        `(${polls} ValidateToken call(s))`,
    );
    assert.equal(await active(a, token), false);
  });

  it('marks and forgets many sessions at once although their keys lie in many slots', async () => {
    const client = await readyClusterClient();
    try {
      const cache = createRedisSessionCache(client, `${keyPrefix}many:`);
      const ids = Array.from({ length: 50 }, () => randomUUID());
      const slots = new Set(
        await Promise.all(
          ids.map((id) => redisCli(cluster.nodes[0]?.port ?? 0, 'cluster', 'keyslot', id)),
        ),
      );
      assert.ok(slots.size > 40, 'the keys spread over the slots');
      const readAt = Date.now();
      for (const id of ids) {
        await cache.fill(id, { state: 'live', userId: 'u', roles: [], readAt }, 60_000, readAt);
      }
      await cache.markRevoked(ids.slice(0, 25), 60_000);
      await cache.forget(ids.slice(25));
      for (const id of ids.slice(0, 25))
        assert.deepEqual(await cache.get(id), { state: 'revoked' });
      for (const id of ids.slice(25)) assert.equal(await cache.get(id), null);
      // A read that began before the forget may not store what it read.
      await cache.fill(
        ids[30] ?? '',
        { state: 'live', userId: 'u', roles: [], readAt },
        60_000,
        readAt,
      );
      assert.equal(await cache.get(ids[30] ?? ''), null);
    } finally {
      client.disconnect();
    }
  });

  it('notices a clean CLUSTER FAILOVER: the slot table names new masters', async () => {
    const client = await readyClusterClient();
    try {
      const changes: RedisTopologyChange[] = [];
      onRedisTopologyChange(client, (change) => changes.push(change));
      const key = `${keyPrefix}probe`;
      await client.set(key, '1');
      const { master, replica } = await cluster.ownerOf(key);
      const masterChanged = watchSlotMaster(client, key);
      assert.equal(masterChanged(), false);
      await redisCli(replica, 'cluster', 'failover');
      // Every node agrees, so the old master answers MOVED instead of serving the read itself.
      await eventually(
        async () => (await cluster.view(master)).find((v) => v.port === replica)?.role,
        (role) => role === 'master',
        { what: 'the old master seeing its replica promoted by CLUSTER FAILOVER' },
      );
      await cluster.waitHealthy();
      // The next command learns it (MOVED, or the periodic slot refresh did first).
      assert.equal(await client.get(key), '1', 'a clean failover loses nothing');
      assert.equal(masterChanged(), true, `the slot of ${key} left ${master}`);
      await eventually(
        async () => changes,
        (c) => c.includes('masters'),
        { what: 'a "masters" topology change' },
      );
    } finally {
      client.disconnect();
    }
  });

  it('keeps revocations through a master killed before it replicated them', async (t) => {
    // Sessions spread over the masters by key; revoke those of the master holding the most.
    const sessions = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const user = await registerUser(i % 2 === 0 ? a : b);
        const token = user.tokens.accessToken;
        const key = `${keyPrefix}sess:${sessionOf(token)}`;
        return { token, key, owner: await cluster.ownerOf(key) };
      }),
    );
    const byMaster = Map.groupBy(sessions, (s) => s.owner.master);
    const [master, doomed = []] =
      [...byMaster.entries()].sort((x, y) => y[1].length - x[1].length)[0] ?? [];
    assert.ok(master !== undefined && doomed.length >= 2);
    const replica = doomed[0]?.owner.replica ?? 0;
    // Both instances have read every session live, so the cache holds live entries for them.
    for (const s of sessions) {
      assert.equal(await active(a, s.token), true);
      assert.equal(await active(b, s.token), true);
    }
    for (const s of doomed) {
      assert.match(await redisCli(master, 'get', s.key), /^\[/, 'a live entry is cached');
    }
    // The replica has everything so far, then stops replicating: the master refuses it PSYNC,
    // so the revocations below reach the master only, as with a master that dies before its
    // replication stream went out.
    assert.equal(await redisCli(master, 'wait', '1', '5000'), '1');
    await redisCli(master, 'acl', 'setuser', 'default', '-psync', '-sync');
    await redisCli(master, 'client', 'kill', 'type', 'replica');
    await eventually(
      () => redisCli(replica, 'info', 'replication'),
      (info) => /master_link_status:down/.test(info),
      { what: 'the replica cut off from its master' },
    );

    for (const [i, s] of doomed.entries()) {
      await call((i % 2 === 0 ? a : b).auth, 'logout', {}, { token: s.token });
    }
    for (const s of doomed) assert.equal(await redisCli(master, 'get', s.key), 'r');

    const killedAt = performance.now();
    await cluster.kill(master);
    // While the slots have no master, sessions are read from PostgreSQL.
    for (const s of doomed) {
      assert.equal(await active(a, s.token), false, 'revoked session inactive during the failover');
    }
    await cluster.waitHealthy();
    t.diagnostic(
      `replica promoted and every node agreeing ${((performance.now() - killedAt) / 1000).toFixed(1)} s ` +
        `after SIGKILL (cluster-node-timeout ${cluster.nodeTimeoutMs} ms)`,
    );
    const view = await cluster.view(replica);
    assert.equal(view.find((v) => v.port === replica)?.role, 'master', 'the replica was promoted');

    // The promoted replica lost the revocation markers: it still holds the live entries.
    const lost = [];
    for (const s of doomed) {
      if ((await redisCli(replica, 'get', s.key)) !== 'r') lost.push(s);
    }
    t.diagnostic(`${lost.length} of ${doomed.length} revocation markers lost by the failover`);
    assert.equal(lost.length, doomed.length, 'the failover lost the unreplicated markers');

    for (const s of doomed) {
      assert.equal(await active(a, s.token), false, 'revoked session inactive on A');
      assert.equal(await active(b, s.token), false, 'revoked session inactive on B');
    }
    // The re-check repaired the cache; sessions on other masters are untouched.
    for (const s of doomed) assert.equal(await redisCli(replica, 'get', s.key), 'r');
    for (const s of sessions.filter((x) => !doomed.includes(x))) {
      assert.equal(await active(a, s.token), true);
      assert.equal(await active(b, s.token), true);
    }

    // New calls work on both instances.
    const fresh = await Promise.all(
      [a, b].map(async (gh) => {
        const user = await registerUser(gh);
        const login = await call(gh.auth, 'login', { identifier: user.email, password: PASSWORD });
        return login.tokens?.accessToken ?? '';
      }),
    );
    for (const token of fresh) {
      assert.equal(await active(a, token), true);
      assert.equal(await active(b, token), true);
    }
    await call(b.auth, 'logout', {}, { token: fresh[0] ?? '' });
    assert.equal(await active(a, fresh[0] ?? ''), false);
  });
});
