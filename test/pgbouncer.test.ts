import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { createApp } from '../src/app.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { StartupError } from '../src/startup/StartupError.ts';
import { createDatabase } from '../src/storage/createDatabase.ts';
import { describePooledTimeouts } from '../src/storage/describePooledTimeouts.ts';
import { listenForNotifications } from '../src/storage/listenForNotifications.ts';
import { migrate } from '../src/storage/migrate.ts';
import { sql } from '../src/storage/sql.ts';
import { eventually } from './helpers/eventually.ts';
import { type PgBouncer, pgBouncerMissing, startPgBouncer } from './helpers/pgBouncer.ts';
import { expectRpcError } from './helpers/rpcError.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { createTestDatabase, redisUrl, type TestDatabase } from './helpers/testDatabase.ts';
import { PASSWORD, registerUser } from './helpers/users.ts';

/** Listen on loopback, ports chosen by the system: the app's tests start many at once. */
const LOOPBACK_ANY_PORT = {
  GRPC_HOST: '127.0.0.1',
  GRPC_PORT: '0',
  HTTP_HOST: '127.0.0.1',
  HTTP_PORT: '0',
  CONNECT_PORT: '0',
};

const missing = pgBouncerMissing();
if (missing !== null) {
  process.stdout.write(`# pgbouncer tests skipped: ${missing}\n`);
}

/** PgBouncer's server connections per (database, user): well below DATABASE_POOL_MAX. */
const SERVER_POOL = 3;
const GATEHOUSE_POOL = 10;

describe('Gatehouse through PgBouncer in transaction pooling mode', {
  skip: missing ?? false,
}, () => {
  let bouncer: PgBouncer;
  let db: TestDatabase;
  let gh: Gatehouse;
  /** A second instance on the same database and Redis, also through PgBouncer. */
  let gh2: Gatehouse;

  const viaBouncer = (g: TestDatabase) => ({
    DATABASE_URL: bouncer.urlFor(g.name),
    DATABASE_DIRECT_URL: g.url,
    DATABASE_POOL_MAX: String(GATEHOUSE_POOL),
  });
  const active = async (g: Gatehouse, accessToken: string) =>
    (await call(g.auth, 'validateToken', { accessToken })).active;
  const pools = async () =>
    (
      await bouncer.show<{
        database: string;
        sv_active: number;
        sv_idle: number;
        sv_used: number;
        cl_active: number;
        cl_waiting: number;
      }>('SHOW POOLS')
    ).find((p) => p.database === db.name);

  before(async () => {
    bouncer = await startPgBouncer({ poolSize: SERVER_POOL });
    db = await createTestDatabase();
    // What docs/pgbouncer.md asks for: the timeouts every server session gets, set where a
    // transaction-mode pooler cannot lose them.
    await db.query(`ALTER DATABASE ${db.name} SET statement_timeout = '5000ms'`);
    await db.query(`ALTER DATABASE ${db.name} SET idle_in_transaction_session_timeout = '10000ms'`);
    gh = await startGatehouse({ ...viaBouncer(db), REFRESH_REUSE_GRACE_SEC: '0' }, db);
    // A long near cache: only the LISTEN feed can make it forget a revoked session in time.
    gh2 = await startGatehouse({ ...viaBouncer(db), SESSION_CACHE_LOCAL_TTL_MS: '60000' }, db);
  });
  after(async () => {
    await gh2?.stop();
    await gh?.stop();
    await bouncer?.stop();
    await db?.drop();
  });

  it('migrated through the direct URL; the pool answers through PgBouncer', async () => {
    const applied = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM schema_migrations',
    );
    assert.ok((applied[0]?.n ?? 0) > 0, 'migrations applied');
    // The same migration run through PgBouncer is refused before it takes any lock.
    await assert.rejects(migrate(bouncer.urlFor(db.name)), (error: unknown) => {
      assert.ok(error instanceof StartupError);
      assert.match(error.message, /DATABASE_DIRECT_URL .* connection pooler/);
      return true;
    });
    const pool = await pools();
    assert.ok(pool, 'PgBouncer has a pool for the test database (Gatehouse connected through it)');
  });

  it('registers, logs in, validates, rotates refresh tokens, detects reuse and logs out', async () => {
    const { email, tokens } = await registerUser(gh);
    assert.equal(await active(gh, tokens.accessToken), true);
    const login = await call(gh.auth, 'login', { identifier: email, password: PASSWORD });
    const loginTokens = login.tokens;
    assert.ok(loginTokens);
    assert.equal(await active(gh2, loginTokens.accessToken), true, 'the other instance agrees');

    const next = (await call(gh.auth, 'refresh', { refreshToken: loginTokens.refreshToken }))
      .tokens;
    assert.ok(next);
    assert.notEqual(next.refreshToken, loginTokens.refreshToken, 'rotated');
    // No grace window here: presenting the rotated token again is reuse; the family dies.
    await expectRpcError(
      call(gh.auth, 'refresh', { refreshToken: loginTokens.refreshToken }),
      status.UNAUTHENTICATED,
      'INVALID_REFRESH_TOKEN',
    );
    await expectRpcError(
      call(gh.auth, 'refresh', { refreshToken: next.refreshToken }),
      status.UNAUTHENTICATED,
      'INVALID_REFRESH_TOKEN',
    );
    const [session] = await db.query<{ revoked_reason: string | null }>(
      'SELECT revoked_reason FROM sessions WHERE id = $1',
      [loginTokens.sessionId],
    );
    assert.equal(session?.revoked_reason, 'refresh_token_reuse');

    await call(gh.auth, 'logout', {}, { token: tokens.accessToken });
    await eventually(
      () => active(gh, tokens.accessToken),
      (a) => a === false,
      {
        what: 'the logged-out session is inactive',
      },
    );
  });

  it('shows a revocation on the other instance through its LISTEN feed', async () => {
    const { tokens } = await registerUser(gh);
    const admin = await registerUser(gh);
    await db.query(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [admin.user.id]);
    const adminLogin = await call(gh.auth, 'login', {
      identifier: admin.email,
      password: PASSWORD,
    });
    const adminToken = adminLogin.tokens?.accessToken ?? '';

    // gh2 caches the session as live for 60 s unless a change notification reaches it.
    assert.equal(await active(gh2, tokens.accessToken), true);
    const user = await call(gh.auth, 'getCurrentUser', {}, { token: tokens.accessToken });
    const listed = await call(
      gh.admin,
      'listUsers',
      { pageSize: 10, pageToken: '', query: user.user?.email ?? '', role: '', status: 0 },
      { token: adminToken },
    );
    assert.ok(
      listed.users.some((u) => u.user?.id === user.user?.id),
      'an admin call through the pooler',
    );
    await call(
      gh.admin,
      'revokeUserSessions',
      { userId: user.user?.id ?? '' },
      { token: adminToken },
    );
    await eventually(
      () => active(gh2, tokens.accessToken),
      (a) => a === false,
      {
        what: 'the other instance sees the revocation',
      },
    );
  });

  it('serves 50 parallel logins and refreshes over fewer server connections than clients', async () => {
    const users = await Promise.all(Array.from({ length: 50 }, () => registerUser(gh)));
    const logins = await Promise.all(
      users.map((u) => call(gh.auth, 'login', { identifier: u.email, password: PASSWORD })),
    );
    const refreshed = await Promise.all(
      logins.map((l) => call(gh.auth, 'refresh', { refreshToken: l.tokens?.refreshToken ?? '' })),
    );
    assert.equal(new Set(refreshed.map((r) => r.tokens?.refreshToken)).size, 50);
    const clients = (await bouncer.show<{ database: string }>('SHOW CLIENTS')).filter(
      (c) => c.database === db.name,
    );
    const servers = (await bouncer.show<{ database: string }>('SHOW SERVERS')).filter(
      (s) => s.database === db.name,
    );
    assert.ok(servers.length <= SERVER_POOL, `${servers.length} server connections`);
    assert.ok(
      clients.length > SERVER_POOL,
      `${clients.length} client connections share ${servers.length} server connections`,
    );
    const checks = await Promise.all(
      refreshed.map((r) => active(gh2, r.tokens?.accessToken ?? '')),
    );
    assert.ok(checks.every(Boolean));
  });

  it('runs with the timeouts the database sets; says what to set when there are none', async () => {
    // No tables needed: only the server sessions' settings are read.
    const bare = await createTestDatabase();
    const tight = await createTestDatabase();
    const pools: Awaited<ReturnType<typeof createDatabase>>[] = [];
    const poolOn = async (name: string, statementTimeoutMs: number) => {
      const pool = await createDatabase({
        url: bouncer.urlFor(name),
        poolMax: 2,
        statementTimeoutMs,
        connectTimeoutMs: 3000,
      });
      pools.push(pool);
      return pool;
    };
    try {
      const problems = await describePooledTimeouts(await poolOn(bare.name, 5000), {
        statementTimeoutMs: 5000,
      });
      assert.equal(problems.length, 2, problems.join('\n'));
      assert.match(
        problems[0] ?? '',
        /statement_timeout .*none.* ALTER ROLE "\w+" IN DATABASE "\w+" SET statement_timeout = '5000ms'/,
      );
      assert.match(problems[1] ?? '', /idle_in_transaction_session_timeout/);

      await tight.query(`ALTER DATABASE ${tight.name} SET statement_timeout = '300ms'`);
      await tight.query(
        `ALTER DATABASE ${tight.name} SET idle_in_transaction_session_timeout = '600ms'`,
      );
      const pool = await poolOn(tight.name, 300);
      assert.deepEqual(await describePooledTimeouts(pool, { statementTimeoutMs: 300 }), []);
      // The database's timeout cancels a long statement through the pooler, too.
      await assert.rejects(pool.query(sql.unsafe`SELECT pg_sleep(30)`), /statement_timeout/);
    } finally {
      for (const pool of pools) await pool.end();
      await bare.drop();
      await tight.drop();
    }
  });

  it('refuses to start when LISTEN and migrations would go through PgBouncer', async () => {
    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: bouncer.urlFor(db.name),
      REDIS_URL: redisUrl,
      ...LOOPBACK_ANY_PORT,
    });
    await assert.rejects(createApp(config, createLogger('silent')), (error: unknown) => {
      assert.ok(error instanceof StartupError, String(error));
      assert.match(
        error.message,
        /^DATABASE_DIRECT_URL \(unset: DATABASE_URL\) reaches a connection pooler/,
      );
      assert.match(error.message, /LISTEN\/NOTIFY/);
      return true;
    });
    const listener = listenForNotifications(
      bouncer.urlFor(db.name),
      {
        channel: 'gatehouse_probe',
        applicationName: 'probe',
        what: 'probe notifications',
        connectTimeoutMs: 3000,
      },
      { onNotification() {}, onRestored() {} },
      createLogger('silent'),
    );
    await assert.rejects(listener.ready, /connection pooler/);
    await listener.stop();
  });
});

describe('DATABASE_DIRECT_URL', () => {
  const base = { NODE_ENV: 'test', REDIS_URL: redisUrl };
  const problemsOf = (env: Record<string, string>) => {
    try {
      loadConfig({ ...base, ...env });
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
    return [];
  };

  it('defaults to DATABASE_URL and is validated like it (password masked)', () => {
    const url = 'postgres://gatehouse@db.internal:5432/gatehouse';
    assert.equal(loadConfig({ ...base, DATABASE_URL: url }).database.directUrl, url);
    const problems = problemsOf({
      DATABASE_URL: url,
      DATABASE_DIRECT_URL: 'gatehouse:hunter2@db.internal:5432/gatehouse',
    });
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.match(
      problems[0] ?? '',
      /^DATABASE_DIRECT_URL="gatehouse:\*\*\*@db.internal.*postgres:\/\//,
    );
  });

  it('is refused without DATABASE_URL (the embedded database needs neither)', () => {
    const problems = problemsOf({
      DATABASE_DIRECT_URL: 'postgres://gatehouse@db.internal/gatehouse',
    });
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.match(problems[0] ?? '', /^DATABASE_DIRECT_URL: set without DATABASE_URL/);
  });

  it('names DATABASE_DIRECT_URL when PostgreSQL cannot be reached there', async () => {
    const db = await createTestDatabase();
    try {
      const config = loadConfig({
        ...base,
        LOG_LEVEL: 'silent',
        DATABASE_URL: db.url,
        DATABASE_DIRECT_URL: 'postgres://postgres@127.0.0.1:1/postgres',
        ...LOOPBACK_ANY_PORT,
      });
      await assert.rejects(createApp(config, createLogger('silent')), (error: unknown) => {
        assert.ok(error instanceof StartupError, String(error));
        assert.match(
          error.message,
          /^PostgreSQL at 127\.0\.0\.1:1 \(DATABASE_DIRECT_URL=postgres:\/\/postgres@127\.0\.0\.1:1\/postgres\): connection refused.*fix DATABASE_DIRECT_URL/,
        );
        return true;
      });
    } finally {
      await db.drop();
    }
  });
});
