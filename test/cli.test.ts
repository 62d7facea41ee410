import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { credentials, status } from '@grpc/grpc-js';
import { UserAdminServiceClient } from '../src/gen/gatehouse/admin/v1/user_admin_service.ts';
import { AuthServiceClient } from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import { migrate } from '../src/storage/migrate.ts';
import { createDataDir } from './helpers/dataDir.ts';
import { eventually } from './helpers/eventually.ts';
import { freePort } from './helpers/redisServer.ts';
import { runCli as cli } from './helpers/runCli.ts';
import { spawnGatehouse } from './helpers/spawnGatehouse.ts';
import { call } from './helpers/startGatehouse.ts';
import { createTestDatabase, redisUrl, type TestDatabase } from './helpers/testDatabase.ts';
import { uniqueEmail } from './helpers/users.ts';

describe('admin CLI: recovering the first-start admin password', () => {
  it('reset-password against the running embedded instance sets a new password, clears the lockout and ends sessions', async () => {
    const dataDir = await createDataDir();
    const env = { DATA_DIR: dataDir.path, EMBEDDED_POSTGRES_PORT: String(await freePort()) };
    const gh = await spawnGatehouse({ ...env, LOCKOUT_THRESHOLD: '2' });
    const target = `127.0.0.1:${gh.grpcPort}`;
    const auth = new AuthServiceClient(target, credentials.createInsecure());
    const admin = new UserAdminServiceClient(target, credentials.createInsecure());
    try {
      const firstPassword = gh.stdout.map((l) => /^ {2}(\S+)$/.exec(l)?.[1]).find(Boolean) ?? '';
      assert.ok(firstPassword, gh.stdout.join('\n'));
      assert.ok(
        gh.stdout.some((l) =>
          l.includes('scripts/run admin reset-password --email admin@gatehouse.local'),
        ),
        'the first start says how to recover the password',
      );
      const identifier = 'admin@gatehouse.local';
      const before = await call(auth, 'login', { identifier, password: firstPassword });
      const oldAccess = { accessToken: before.tokens?.accessToken ?? '' };
      assert.equal((await call(auth, 'validateToken', oldAccess)).active, true, 'cached as live');
      // The password is "lost": wrong guesses lock the account.
      for (let i = 0; i < 2; i++) {
        await assert.rejects(call(auth, 'login', { identifier, password: 'not-the-password-1' }));
      }
      await assert.rejects(
        call(auth, 'login', { identifier, password: firstPassword }),
        (e: { code: number }) => e.code === status.UNAUTHENTICATED,
        'locked',
      );

      const run = await cli('admin', ['reset-password', '--email', identifier], env);
      assert.equal(run.code, 0, run.stderr);
      const newPassword = /^password: (\S+)$/m.exec(run.stdout)?.[1] ?? '';
      assert.ok(newPassword.length >= 20, run.stdout);
      assert.match(run.stdout, /lockout cleared; 1 session\(s\) ended/);
      // The CLI is another process: the server's in-process cache learns of it from PostgreSQL
      // (its live entries last a minute, far beyond this wait).
      await eventually(
        async () => (await call(auth, 'validateToken', oldAccess)).active,
        (active) => !active,
        { what: 'the ended session refused by ValidateToken' },
      );

      await assert.rejects(
        call(auth, 'login', { identifier, password: firstPassword }),
        (e: { code: number }) => e.code === status.UNAUTHENTICATED,
        'the old password no longer works',
      );
      const login = await call(auth, 'login', { identifier, password: newPassword });
      assert.deepEqual(login.user?.roles, ['admin'], 'lockout cleared, still the admin');
      await assert.rejects(
        call(auth, 'refresh', { refreshToken: before.tokens?.refreshToken ?? '' }),
        (e: { code: number }) => e.code === status.UNAUTHENTICATED,
        'the session from before the reset has ended',
      );
      const audit = await call(
        admin,
        'listAuditEvents',
        { pageSize: 10, pageToken: '', userId: login.user?.id ?? '', action: 'password_reset' },
        { token: login.tokens?.accessToken ?? '' },
      );
      assert.equal(audit.events.length, 1);
      assert.equal(JSON.parse(audit.events[0]?.detailsJson ?? '{}').source, 'cli');
      assert.ok(!JSON.stringify(audit).includes(newPassword));
    } finally {
      auth.close();
      admin.close();
      gh.process.kill('SIGTERM');
      await gh.exited;
      await dataDir.remove();
    }
  });

  it('says to start Gatehouse when its embedded database is not running', async () => {
    const dataDir = await createDataDir();
    try {
      await writeFile(
        join(dataDir.path, 'embedded-postgres.json'),
        JSON.stringify({ password: 'x' }),
      );
      const port = await freePort();
      const run = await cli('admin', ['reset-password', '--email', 'admin@gatehouse.local'], {
        DATA_DIR: dataDir.path,
        EMBEDDED_POSTGRES_PORT: String(port),
      });
      assert.equal(run.code, 1, run.stderr);
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
      assert.match(
        run.stderr,
        new RegExp(
          `^gatehouse admin: PostgreSQL at 127\\.0\\.0\\.1:${port} \\(the embedded PostgreSQL of DATA_DIR=.*\\): connection refused.*start Gatehouse first \\(\`scripts/run start\``,
        ),
      );
    } finally {
      await dataDir.remove();
    }
  });
});

describe('CLIs in production need only the database', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db.drop();
  });
  // No REDIS_URL, no SMTP_URL, no MAIL_TRANSPORT: the server would refuse to start like this.
  const production = () => ({ NODE_ENV: 'production', DATABASE_URL: db.url });

  it('migrate, admin create, admin reset-password and keys run', async () => {
    const migrated = await cli('migrate', [], production());
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.match(migrated.stdout, /migrations: \d+ applied/);

    const email = uniqueEmail('prod-admin');
    const created = await cli('admin', ['create', '--email', email], production());
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^created /m);

    const reset = await cli(
      'admin',
      ['reset-password', '--email', email, '--password-stdin'],
      production(),
      'a brand new passphrase for ops\n',
    );
    assert.equal(reset.code, 0, reset.stderr);
    assert.doesNotMatch(reset.stdout, /^password:/m, 'a given password is not printed');

    const keys = await cli('keys', ['list'], production());
    assert.equal(keys.code, 0, keys.stderr);
  });

  it('reset-password names an unknown account and a refused password', async () => {
    await migrate(db.url);
    const unknown = await cli(
      'admin',
      ['reset-password', '--email', uniqueEmail('nobody')],
      production(),
    );
    assert.equal(unknown.code, 65, unknown.stderr);
    assert.match(unknown.stderr, /^gatehouse admin: there is no account with the email /);
    const email = uniqueEmail('weak');
    assert.equal((await cli('admin', ['create', '--email', email], production())).code, 0);
    const weak = await cli(
      'admin',
      ['reset-password', '--email', email, '--password-stdin'],
      production(),
      'password\n',
    );
    assert.equal(weak.code, 65, weak.stderr);
    assert.match(weak.stderr, /password: /);
  });
});

describe('key rotation reaches running instances', () => {
  it('logs the rotation the keys CLI made', async () => {
    const db = await createTestDatabase();
    const env = { DATABASE_URL: db.url, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: 'ghtest:rotation:' };
    const gh = await spawnGatehouse({ ...env, JWT_KEY_REFRESH_SEC: '1' });
    try {
      const rotated = await cli('keys', ['rotate', '--algorithm', 'ES256'], env);
      assert.equal(rotated.code, 0, rotated.stderr);
      const kid = /new signing key (\S+) \(ES256\) is active/.exec(rotated.stdout)?.[1];
      assert.ok(kid, rotated.stdout);
      await eventually(
        async () =>
          gh.logs.some((l) => String(l.msg).startsWith('signing key rotated') && l.kid === kid),
        (seen) => seen,
        { what: 'the rotation in the server log', timeoutMs: 30_000 },
      );
      const entry = gh.logs.find((l) => l.kid === kid);
      assert.equal(entry?.algorithm, 'ES256');
      assert.equal(typeof entry?.previousKid, 'string');
    } finally {
      gh.process.kill('SIGTERM');
      await gh.exited;
      await db.drop();
    }
  });
});
