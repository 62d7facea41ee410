import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { credentials, status } from '@grpc/grpc-js';
import { AuthServiceClient } from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import { sourceKey } from '../src/ratelimit/sourceKey.ts';
import { HealthClient } from './helpers/healthClient.ts';
import { RedisServer } from './helpers/redisServer.ts';
import { expectRpcError } from './helpers/rpcError.ts';
import { spawnGatehouse } from './helpers/spawnGatehouse.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { createTestDatabase, redisUrl } from './helpers/testDatabase.ts';
import { PASSWORD, registerUser, uniqueEmail } from './helpers/users.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const wrongLogin = (gh: Gatehouse, identifier: string, xff?: string) =>
  call(
    gh.auth,
    'login',
    { identifier, password: 'definitely-wrong-pw' },
    xff ? { metadata: { 'x-forwarded-for': xff } } : {},
  );

/** Resolves to 'OK', 'LIMITED' or throws on anything else. */
async function outcome(p: Promise<unknown>): Promise<'PASSED' | 'LIMITED'> {
  try {
    await p;
    return 'PASSED';
  } catch (error) {
    const code = (error as { code: number }).code;
    if (code === status.RESOURCE_EXHAUSTED) return 'LIMITED';
    if (code === status.UNAUTHENTICATED) return 'PASSED'; // got past the limiter to the password check
    throw error;
  }
}

describe('sources are grouped sensibly', () => {
  it('keys IPv4 as is and IPv6 by /64', () => {
    assert.equal(sourceKey('203.0.113.7'), '203.0.113.7');
    assert.equal(sourceKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(sourceKey('2001:db8:1:2:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
    assert.notEqual(sourceKey('2001:db8:1:3::1'), sourceKey('2001:db8:1:2::1'));
    assert.equal(sourceKey('::ffff:198.51.100.4'), '198.51.100.4');
  });
});

describe('rate limits', () => {
  let gh: Gatehouse;
  before(async () => {
    gh = await startGatehouse({
      TRUSTED_PROXIES: '127.0.0.1',
      RATE_LIMIT_IP_CREDENTIAL_POINTS: '4',
      RATE_LIMIT_IP_CREDENTIAL_WINDOW_SEC: '2',
      RATE_LIMIT_ACCOUNT_POINTS: '3',
      RATE_LIMIT_ACCOUNT_WINDOW_SEC: '60',
      RATE_LIMIT_ACCOUNT_IP_POINTS: '2',
      RATE_LIMIT_ACCOUNT_IP_WINDOW_SEC: '60',
    });
  });
  after(async () => {
    await gh.stop();
  });

  it('limits per source IP with RESOURCE_EXHAUSTED and RetryInfo; the retry after the delay succeeds', async () => {
    const ip = '198.51.100.10';
    for (let i = 0; i < 4; i++)
      assert.equal(await outcome(wrongLogin(gh, uniqueEmail(), ip)), 'PASSED');
    const s = await expectRpcError(
      wrongLogin(gh, uniqueEmail(), ip),
      status.RESOURCE_EXHAUSTED,
      'RATE_LIMITED',
    );
    assert.ok(
      s.retryDelayMs !== undefined && s.retryDelayMs > 0 && s.retryDelayMs <= 2000 * 1.25,
      `retry delay ${s.retryDelayMs}`,
    );
    assert.equal(
      await outcome(wrongLogin(gh, uniqueEmail(), '198.51.100.11')),
      'PASSED',
      'another source is unaffected',
    );
    await sleep((s.retryDelayMs ?? 0) + 50);
    assert.equal(
      await outcome(wrongLogin(gh, uniqueEmail(), ip)),
      'PASSED',
      'a retry after the delay goes through',
    );
  });

  it('limits per account across sources, the same whether or not the account exists', async () => {
    const { email } = await registerUser(gh);
    for (const identifier of [email, uniqueEmail('ghost')]) {
      const seen = [];
      for (let i = 0; i < 4; i++)
        seen.push(await outcome(wrongLogin(gh, identifier, `192.0.2.${20 + i}`)));
      assert.deepEqual(seen, ['PASSED', 'PASSED', 'PASSED', 'LIMITED'], identifier);
    }
  });

  it('limits per (account, source) before the per-account budget', async () => {
    const identifier = uniqueEmail('pair');
    const seen = [];
    for (let i = 0; i < 3; i++) seen.push(await outcome(wrongLogin(gh, identifier, '192.0.2.50')));
    assert.deepEqual(seen, ['PASSED', 'PASSED', 'LIMITED']);
    assert.equal(
      await outcome(wrongLogin(gh, identifier, '192.0.2.51')),
      'PASSED',
      'the same account from another source',
    );
  });

  it('limits Register per address too', async () => {
    const email = uniqueEmail('reg');
    await registerUser(gh, { email });
    const s = [];
    for (let i = 0; i < 3; i++) {
      try {
        await call(
          gh.auth,
          'register',
          { email, password: PASSWORD },
          { metadata: { 'x-forwarded-for': `192.0.2.${60 + i}` } },
        );
      } catch (error) {
        s.push((error as { code: number }).code);
      }
    }
    assert.deepEqual(s, [status.ALREADY_EXISTS, status.ALREADY_EXISTS, status.RESOURCE_EXHAUSTED]);
  });
});

describe('forwarded-for from untrusted peers', () => {
  let gh: Gatehouse;
  before(async () => {
    // Listens on IPv6 too: [::1] is the trusted proxy, 127.0.0.1 an untrusted client.
    gh = await startGatehouse({
      GRPC_HOST: '::',
      TRUSTED_PROXIES: '::1',
      RATE_LIMIT_IP_CREDENTIAL_POINTS: '3',
      RATE_LIMIT_IP_CREDENTIAL_WINDOW_SEC: '60',
    });
  });
  after(async () => {
    await gh.stop();
  });

  it('ignores a rotating forged header, and forging a victim IP does not throttle the victim', async () => {
    const victim = '203.0.113.99';
    const seen = [];
    for (let i = 0; i < 5; i++)
      seen.push(await outcome(wrongLogin(gh, uniqueEmail(), i === 0 ? victim : `203.0.113.${i}`)));
    assert.deepEqual(
      seen,
      ['PASSED', 'PASSED', 'PASSED', 'LIMITED', 'LIMITED'],
      'the untrusted peer is limited as itself',
    );
    const proxy = new AuthServiceClient(`[::1]:${gh.app.grpcPort}`, credentials.createInsecure());
    const viaProxy = await outcome(
      call(
        proxy,
        'login',
        { identifier: uniqueEmail(), password: 'definitely-wrong-pw' },
        { metadata: { 'x-forwarded-for': victim } },
      ),
    );
    proxy.close();
    assert.equal(
      viaProxy,
      'PASSED',
      'the victim, arriving through the trusted proxy, is not throttled',
    );
  });
});

describe('shared budget and Redis failure', () => {
  it('enforces one budget across two Gatehouse processes sharing Redis', async () => {
    const db = await createTestDatabase();
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: `ghtest:shared:${Date.now()}:`,
      LOG_LEVEL: 'info',
      RATE_LIMIT_IP_CREDENTIAL_POINTS: '4',
      RATE_LIMIT_IP_CREDENTIAL_WINDOW_SEC: '60',
    };
    const a = await spawnGatehouse(env);
    const b = await spawnGatehouse(env);
    const clients = [a, b].map(
      (p) => new AuthServiceClient(`127.0.0.1:${p.grpcPort}`, credentials.createInsecure()),
    );
    try {
      const seen = [];
      for (let i = 0; i < 6; i++) {
        const client = clients[i % 2] as AuthServiceClient;
        seen.push(
          await outcome(
            call(client, 'login', { identifier: uniqueEmail(), password: 'definitely-wrong-pw' }),
          ),
        );
      }
      assert.deepEqual(seen, ['PASSED', 'PASSED', 'PASSED', 'PASSED', 'LIMITED', 'LIMITED']);
    } finally {
      for (const c of clients) c.close();
      a.process.kill('SIGTERM');
      b.process.kill('SIGTERM');
      await Promise.all([a.exited, b.exited]);
      await db.drop();
    }
  });

  it('falls back to in-process limits within milliseconds when Redis dies, and recovers', async () => {
    const redis = await RedisServer.start();
    const gh = await startGatehouse({
      REDIS_URL: redis.url,
      RATE_LIMIT_IP_CREDENTIAL_POINTS: '3',
      RATE_LIMIT_IP_CREDENTIAL_WINDOW_SEC: '60',
      REDIS_COMMAND_TIMEOUT_MS: '200',
    }).catch(async (error: unknown) => {
      await redis.stop(); // a live redis-server child would keep the file running
      throw error;
    });
    const health = new HealthClient(gh.target);
    const metrics = async () => (await fetch(`http://127.0.0.1:${gh.app.httpPort}/metrics`)).text();
    try {
      assert.equal(await outcome(wrongLogin(gh, uniqueEmail())), 'PASSED');
      assert.match(await metrics(), /gatehouse_rate_limit_mode\{mode="redis"\} 1/);
      await redis.stop();
      const started = Date.now();
      const seen = [];
      for (let i = 0; i < 5; i++) seen.push(await outcome(wrongLogin(gh, uniqueEmail())));
      const elapsed = Date.now() - started;
      assert.deepEqual(
        seen,
        ['PASSED', 'PASSED', 'PASSED', 'LIMITED', 'LIMITED'],
        'never unlimited while Redis is down',
      );
      assert.ok(elapsed < 5 * 1000, `no call hung (${elapsed} ms for 5 calls)`);
      assert.match(await metrics(), /gatehouse_rate_limit_mode\{mode="degraded"\} 1/);
      let redisHealth = await health.check('gatehouse.redis');
      for (let i = 0; i < 30 && redisHealth !== 'NOT_SERVING'; i++) {
        await sleep(200);
        redisHealth = await health.check('gatehouse.redis');
      }
      assert.equal(redisHealth, 'NOT_SERVING', 'health says Redis is down');

      await redis.start();
      let mode = '';
      for (let i = 0; i < 50 && mode !== 'redis'; i++) {
        await sleep(200);
        await outcome(wrongLogin(gh, uniqueEmail(), undefined)).catch(() => {});
        mode = /gatehouse_rate_limit_mode\{mode="(\w+)"\} 1/.exec(await metrics())?.[1] ?? '';
      }
      assert.equal(mode, 'redis', 'back on Redis once it returns');
    } finally {
      health.close();
      await gh.stop();
      await redis.stop();
    }
  });
});

describe('a trusted backend forwarding its end users', () => {
  let gh: Gatehouse;
  before(async () => {
    // The normal topology of a service called by other services: one backend (127.0.0.1 here)
    // calls Gatehouse for many people and forwards each one's address.
    gh = await startGatehouse({
      TRUSTED_PROXIES: '127.0.0.1',
      RATE_LIMIT_IP_CREDENTIAL_POINTS: '3',
      RATE_LIMIT_IP_CREDENTIAL_WINDOW_SEC: '600',
      RATE_LIMIT_IP_READ_POINTS: '3',
      RATE_LIMIT_IP_READ_WINDOW_SEC: '600',
    });
  });
  after(async () => {
    await gh.stop();
  });

  it('gives every forwarded end-user address its own budget', async () => {
    const users = ['198.51.100.21', '198.51.100.22', '198.51.100.23', '2001:db8:7::1'];
    for (const ip of users) {
      for (let i = 0; i < 3; i++) {
        assert.equal(await outcome(wrongLogin(gh, uniqueEmail(), ip)), 'PASSED', ip);
      }
    }
    for (const ip of users) {
      await expectRpcError(
        wrongLogin(gh, uniqueEmail(), ip),
        status.RESOURCE_EXHAUSTED,
        'RATE_LIMITED',
      );
    }
  });

  it('audits an admin call refused by the per-source limit', async () => {
    const admin = await registerUser(gh);
    await gh.db.query(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [admin.user.id]);
    const ip = '198.51.100.91';
    const getUser = () =>
      call(
        gh.admin,
        'getUser',
        { userId: admin.user.id },
        { token: admin.tokens.accessToken, metadata: { 'x-forwarded-for': ip } },
      );
    for (let i = 0; i < 3; i++) await getUser();
    await expectRpcError(getUser(), status.RESOURCE_EXHAUSTED, 'RATE_LIMITED');
    const rows = await gh.db.query<{ outcome: string; details: { reason?: string } }>(
      `SELECT outcome, details FROM audit_events WHERE action = 'user_get' AND ip_address = $1
       ORDER BY id`,
      [ip],
    );
    assert.deepEqual(
      rows.map((r) => [r.outcome, r.details.reason ?? null]),
      [
        ['success', null],
        ['success', null],
        ['success', null],
        ['denied', 'RATE_LIMITED'],
      ],
    );
  });
});
