import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { credentials, status } from '@grpc/grpc-js';
import pg from 'pg';
import { UserAdminServiceClient } from '../src/gen/gatehouse/admin/v1/user_admin_service.ts';
import { AuthServiceClient } from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import { relocatedClusterBase } from '../src/storage/startEmbeddedPostgres.ts';
import { eventually } from './helpers/eventually.ts';
import { expectRpcError } from './helpers/rpcError.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { PASSWORD, registerUser, uniqueEmail } from './helpers/users.ts';

const ROOT = new URL('..', import.meta.url).pathname;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a script of this repository as its own process; `input` is its whole stdin. */
function spawnNode(
  args: string[],
  env: Record<string, string>,
  input?: string,
  until?: RegExp,
): { ready: Promise<Run>; exited: Promise<Run>; kill(): void } {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (input !== undefined) child.stdin?.end(input);
  const out = { code: null as number | null, stdout: '', stderr: '' };
  const exited = new Promise<Run>((resolve) =>
    child.on('exit', (code) => {
      out.code = code;
      resolve({ ...out });
    }),
  );
  const ready = new Promise<Run>((resolve) => {
    child.stdout?.on('data', (d) => {
      out.stdout += String(d);
      if (until?.test(out.stdout)) resolve({ ...out });
    });
    void exited.then(resolve);
  });
  child.stderr?.on('data', (d) => {
    out.stderr += String(d);
  });
  return { ready, exited, kill: () => child.kill('SIGTERM') };
}

function withUser(url: string, user: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = '';
  return u.toString();
}

describe('audit log is append-only for the application role', () => {
  let gh: Gatehouse;
  before(async () => {
    gh = await startGatehouse();
    await registerUser(gh);
  });
  after(async () => {
    await gh.stop();
  });

  /** One connection; `fn` runs inside a transaction that is always rolled back. */
  async function inTransaction<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('BEGIN');
      return await fn(client);
    } finally {
      await client.query('ROLLBACK').catch(() => {});
      await client.end();
    }
  }
  const refused = async (client: pg.Client, text: string, message: RegExp) => {
    await client.query('SAVEPOINT s');
    await assert.rejects(client.query(text), (err: { code: string; message: string }) => {
      assert.equal(err.code, '42501', err.message);
      assert.match(err.message, message);
      return true;
    });
    await client.query('ROLLBACK TO SAVEPOINT s');
  };

  it('refuses UPDATE, DELETE and TRUNCATE even to the owner (trigger)', async () => {
    await inTransaction(gh.db.url, async (c) => {
      await refused(c, `UPDATE audit_events SET action = 'forged'`, /append-only/);
      await refused(c, 'DELETE FROM audit_events', /append-only/);
      await refused(c, 'TRUNCATE audit_events', /append-only/);
    });
  });

  it('grants gatehouse_app only SELECT and INSERT on audit_events', async () => {
    await inTransaction(gh.db.url, async (c) => {
      await c.query('SET LOCAL ROLE gatehouse_app');
      const { rows } = await c.query('SELECT count(*)::int AS n FROM audit_events');
      assert.ok(rows[0].n > 0);
      await c.query(`INSERT INTO audit_events (action, outcome) VALUES ('probe', 'success')`);
      await c.query(`SET LOCAL gatehouse.audit_retention = 'on'`);
      await refused(c, `UPDATE audit_events SET action = 'forged'`, /permission denied/);
      await refused(c, 'DELETE FROM audit_events', /permission denied/);
      await refused(c, 'TRUNCATE audit_events', /permission denied/);
      // The rest of the schema is ordinary DML for the application.
      await c.query(`UPDATE users SET display_name = display_name`);
    });
  });

  it('runs the service as a login role that is a member of gatehouse_app', async () => {
    const role = `gatehouse_test_app_${randomBytes(4).toString('hex')}`;
    await gh.db.query(`CREATE ROLE ${role} LOGIN IN ROLE gatehouse_app`);
    const url = withUser(gh.db.url, role);
    const app = await startGatehouse({ DATABASE_URL: url, MIGRATE_ON_START: 'false' }, gh.db);
    try {
      const admin = await registerUser(app);
      await gh.db.query(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [admin.user.id]);
      const token = admin.tokens.accessToken;
      const created = await call(
        app.admin,
        'createUser',
        { email: uniqueEmail('as-app'), roles: [], emailVerified: false },
        { token },
      );
      await call(app.admin, 'disableUser', { userId: created.user?.user?.id ?? '' }, { token });
      const events = await call(
        app.admin,
        'listAuditEvents',
        { pageSize: 2, pageToken: '', userId: '', action: '' },
        { token },
      );
      assert.equal(events.events[0]?.action, 'user_disable');
      assert.ok(events.nextPageToken !== '', 'page tokens work (app_secrets is readable)');
      await call(gh.auth, 'login', { identifier: admin.email, password: PASSWORD });
      await inTransaction(url, async (c) => {
        await refused(c, `UPDATE audit_events SET action = 'forged'`, /permission denied/);
      });
    } finally {
      await app.stop();
      await gh.db.query(`DROP ROLE ${role}`);
    }
  });
});

describe('first admin', () => {
  let gh: Gatehouse;
  before(async () => {
    // An in-process session cache layer that outlives every test here: a role change the CLI
    // makes can then only show through change notifications, never by an entry expiring.
    gh = await startGatehouse({ SESSION_CACHE_LOCAL_TTL_MS: '60000' });
  });
  after(async () => {
    await gh.stop();
  });
  const cli = (args: string[], input?: string) =>
    spawnNode(
      ['src/cli/admin.ts', ...args],
      {
        DATABASE_URL: gh.db.url,
        LOG_LEVEL: 'silent',
      },
      input,
    ).exited;

  it('creates an admin with a generated password printed once', async () => {
    const email = uniqueEmail('first-admin');
    const run = await cli(['create', '--email', email, '--role', 'admin']);
    assert.equal(run.code, 0, run.stderr);
    const password = /^password: (\S+)$/m.exec(run.stdout)?.[1];
    assert.ok(password && password.length >= 20, run.stdout);
    const login = await call(gh.auth, 'login', { identifier: email, password });
    assert.deepEqual(login.user?.roles, ['admin']);
    const token = login.tokens?.accessToken ?? '';
    const listed = await call(
      gh.admin,
      'listUsers',
      { pageSize: 10, pageToken: '', query: '', role: 'admin', status: 0 },
      { token },
    );
    assert.deepEqual(
      listed.users.map((u) => u.user?.email),
      [email],
    );
    const audit = await gh.db.query<{ action: string; subject_user_id: string; details: object }>(
      `SELECT action, subject_user_id, details FROM audit_events WHERE action = 'admin_bootstrap'`,
    );
    assert.equal(audit.length, 1);
    assert.equal(audit[0]?.subject_user_id, login.user?.id);
    assert.ok(!JSON.stringify(audit).includes(password), 'the password is in no audit row');
  });

  it('promotes an existing user at once, keeping its password', async () => {
    const member = await registerUser(gh);
    const token = member.tokens.accessToken;
    await expectRpcError(
      call(gh.admin, 'getUser', { userId: member.user.id }, { token }),
      status.PERMISSION_DENIED,
      'ADMIN_ROLE_REQUIRED',
    );
    assert.deepEqual((await call(gh.auth, 'validateToken', { accessToken: token })).roles, []);
    const run = await cli(['create', '--email', member.email.toUpperCase(), '--role', 'admin']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^promoted /m);
    assert.doesNotMatch(run.stdout, /password/);
    await call(gh.admin, 'getUser', { userId: member.user.id }, { token });
    // The CLI is another process: the running server learns of the change from PostgreSQL.
    await eventually(
      async () => (await call(gh.auth, 'validateToken', { accessToken: token })).roles,
      (roles) => roles.length === 1 && roles[0] === 'admin',
      { what: 'ValidateToken showing the new role' },
    );
    await call(gh.auth, 'login', { identifier: member.email, password: PASSWORD });
  });

  it('reads a password from stdin, checks it, and never prompts', async () => {
    const email = uniqueEmail('stdin-admin');
    const weak = await cli(['create', '--email', email, '--password-stdin'], 'password\n');
    assert.equal(weak.code, 65, weak.stdout);
    assert.match(weak.stderr, /too common/);
    const good = await cli(['create', '--email', email, '--password-stdin'], `${PASSWORD}\n`);
    assert.equal(good.code, 0, good.stderr);
    assert.doesNotMatch(good.stdout, /password:/, 'a given password is not echoed');
    const login = await call(gh.auth, 'login', { identifier: email, password: PASSWORD });
    assert.deepEqual(login.user?.roles, ['admin'], 'admin is the default role');
    const existing = await cli(['create', '--email', email, '--password-stdin'], `${PASSWORD}\n`);
    assert.equal(existing.code, 65, 'an existing account keeps its password');
    const usage = await cli(['create']);
    assert.equal(usage.code, 64);
    const badRole = await cli(['create', '--email', uniqueEmail(), '--role', 'Root']);
    assert.equal(badRole.code, 65);
  });

  it('embedded dev mode: the first start creates an admin and prints its password once', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-admin-embedded-'));
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as { port: number };
        srv.close(() => resolve(port));
      });
    });
    const env = {
      DATA_DIR: dataDir,
      EMBEDDED_POSTGRES_PORT: String(port),
      GRPC_HOST: '127.0.0.1',
      GRPC_PORT: '0',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      CONNECT_PORT: '0',
    };
    const start = () => spawnNode(['src/main.ts'], env, undefined, /"gatehouse is listening"/);
    try {
      const first = start();
      try {
        const started = await first.ready;
        assert.equal(started.code, null, started.stderr);
        const password = /^ {2}(\S+)$/m.exec(started.stdout)?.[1];
        assert.ok(password, started.stdout);
        assert.match(started.stdout, /admin@gatehouse\.local/);
        const logLines = started.stdout.split('\n').filter((l) => l.startsWith('{'));
        assert.ok(!logLines.some((l) => l.includes(password)), 'never in a log line');
        const target = `127.0.0.1:${/"grpcPort":(\d+)/.exec(started.stdout)?.[1]}`;
        const auth = new AuthServiceClient(target, credentials.createInsecure());
        const admin = new UserAdminServiceClient(target, credentials.createInsecure());
        try {
          const login = await call(auth, 'login', {
            identifier: 'admin@gatehouse.local',
            password,
          });
          assert.deepEqual(login.user?.roles, ['admin']);
          const listed = await call(
            admin,
            'listUsers',
            { pageSize: 10, pageToken: '', query: '', role: 'admin', status: 0 },
            { token: login.tokens?.accessToken ?? '' },
          );
          assert.equal(listed.users.length, 1);
        } finally {
          auth.close();
          admin.close();
        }
      } finally {
        // Clean shutdown itself is test/lifecycle.test.ts's subject; here it only has to end.
        first.kill();
        await first.exited;
      }
      const second = start();
      const restarted = await second.ready;
      second.kill();
      await second.exited;
      assert.match(restarted.stdout, /"gatehouse is listening"/);
      assert.doesNotMatch(restarted.stdout, /admin@gatehouse\.local/, 'printed only once');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
      // As root the cluster of a 0700 DATA_DIR lives outside it.
      await rm(relocatedClusterBase(dataDir), { recursive: true, force: true });
    }
  });
});
