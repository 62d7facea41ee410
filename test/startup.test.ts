import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDataDir } from './helpers/dataDir.ts';
import { HealthClient } from './helpers/healthClient.ts';
import { freePort } from './helpers/redisServer.ts';
import {
  type FinishedGatehouse,
  REPO_ROOT,
  runGatehouseToExit,
  spawnGatehouse,
} from './helpers/spawnGatehouse.ts';
import { baseDatabaseUrl, createTestDatabase, type TestDatabase } from './helpers/testDatabase.ts';

/** A real listener on a free port of 127.0.0.1, holding it until closed. */
async function occupyPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, server };
}

/** The lines on stderr; each must be one complete message (no stack traces, no JSON). */
function problemLines(run: FinishedGatehouse): string[] {
  const lines = run.stderr.split('\n').filter((l) => l !== '');
  for (const line of lines) {
    assert.match(line, /^gatehouse: /, `every stderr line is a message: ${run.stderr}`);
    assert.doesNotMatch(line, /^\s+at /, 'no stack');
  }
  return lines;
}

function withDatabase(
  url: string,
  changes: { database?: string; user?: string; password?: string },
) {
  const u = new URL(url);
  if (changes.database !== undefined) u.pathname = `/${changes.database}`;
  if (changes.user !== undefined) u.username = changes.user;
  if (changes.password !== undefined) u.password = changes.password;
  return u.toString();
}

// The cases are independent processes on their own ports and directories: run them side by side.
describe('start-up failures name their cause', { concurrency: true }, () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db.drop();
  });

  it('reports every invalid setting at once (exit 78), URLs with the password masked', async () => {
    const run = await runGatehouseToExit({
      GRPC_PORT: 'nope',
      // The classic mistakes: no scheme (was `getaddrinfo ENOTFOUND base`), a mistyped one.
      DATABASE_URL: 'gatehouse:hunter2@db.internal:5432/gatehouse',
      REDIS_URL: 'http://127.0.0.1:6379',
      SESSION_IDLE_TIMEOUT_SEC: '7200',
      SESSION_ABSOLUTE_LIFETIME_SEC: '3600',
      TLS_CERT_FILE: '/nonexistent/cert.pem',
    });
    assert.equal(run.code, 78, run.stderr);
    const lines = problemLines(run);
    for (const name of [
      'GRPC_PORT',
      'DATABASE_URL',
      'REDIS_URL',
      'SESSION_IDLE_TIMEOUT_SEC',
      'TLS_CERT_FILE, TLS_KEY_FILE',
    ]) {
      assert.equal(lines.filter((l) => l.includes(`invalid setting ${name}`)).length, 1, name);
    }
    assert.equal(lines.length, 5, run.stderr);
    assert.match(run.stderr, /DATABASE_URL="gatehouse:\*\*\*@db\.internal:5432\/gatehouse"/);
    assert.match(
      run.stderr,
      /postgres:\/\/user:password@host:5432\/database/,
      'says what is expected',
    );
    assert.doesNotMatch(run.stderr, /hunter2/);
  });

  it('names busy GRPC_PORT, HTTP_PORT and CONNECT_PORT together, before starting anything (exit 1)', async () => {
    const grpc = await occupyPort();
    const http = await occupyPort();
    const connect = await occupyPort();
    try {
      const run = await runGatehouseToExit({
        DATABASE_URL: db.url,
        GRPC_PORT: String(grpc.port),
        HTTP_PORT: String(http.port),
        CONNECT_PORT: String(connect.port),
      });
      assert.equal(run.code, 1, run.stderr);
      const lines = problemLines(run);
      assert.equal(lines.length, 3, run.stderr);
      assert.match(
        lines[0] ?? '',
        new RegExp(
          `GRPC_PORT ${grpc.port} is already in use on 127\\.0\\.0\\.1.*set GRPC_PORT to a free port`,
        ),
      );
      assert.match(
        lines[1] ?? '',
        new RegExp(
          `HTTP_PORT ${http.port} is already in use on 127\\.0\\.0\\.1.*set HTTP_PORT to a free port`,
        ),
      );
      assert.match(
        lines[2] ?? '',
        new RegExp(
          `CONNECT_PORT ${connect.port} is already in use on 127\\.0\\.0\\.1.*set CONNECT_PORT to a free port`,
        ),
      );
      const migrated = await db.query(`SELECT to_regclass('public.users') AS t`);
      assert.equal(migrated[0]?.t, null, 'nothing was started: no migration ran');
    } finally {
      grpc.server.close();
      http.server.close();
      connect.server.close();
    }
  });

  it('names a busy EMBEDDED_POSTGRES_PORT', async () => {
    const pg = await occupyPort();
    const dataDir = await createDataDir();
    try {
      const run = await runGatehouseToExit({
        DATA_DIR: dataDir.path,
        EMBEDDED_POSTGRES_PORT: String(pg.port),
      });
      assert.equal(run.code, 1, run.stderr);
      const lines = problemLines(run);
      assert.equal(lines.length, 1, run.stderr);
      assert.match(
        lines[0] ?? '',
        new RegExp(
          `EMBEDDED_POSTGRES_PORT ${pg.port} is already in use on 127\\.0\\.0\\.1.*set EMBEDDED_POSTGRES_PORT to a free port`,
        ),
      );
    } finally {
      pg.server.close();
      await dataDir.remove();
    }
  });

  it('names a DATA_DIR held by another running instance, with its PID', async () => {
    const dataDir = await createDataDir();
    try {
      const first = await spawnGatehouse({
        DATA_DIR: dataDir.path,
        EMBEDDED_POSTGRES_PORT: String(await freePort()),
      });
      try {
        const run = await runGatehouseToExit({
          DATA_DIR: dataDir.path,
          EMBEDDED_POSTGRES_PORT: String(await freePort()),
        });
        assert.equal(run.code, 1, run.stderr);
        const lines = problemLines(run);
        assert.equal(lines.length, 1, run.stderr);
        assert.match(
          lines[0] ?? '',
          /^gatehouse: DATA_DIR=.* is in use: its embedded PostgreSQL .* is running as PID \d+ .*set DATA_DIR to another directory$/,
        );
        const health = new HealthClient(`127.0.0.1:${first.grpcPort}`);
        assert.equal(await health.check(''), 'SERVING', 'the first instance is untouched');
        health.close();
      } finally {
        first.process.kill('SIGTERM');
        assert.equal(await first.exited, 0);
      }
    } finally {
      await dataDir.remove();
    }
  });

  it('says when the database does not exist (3D000), password masked', async () => {
    const missing = `gatehouse_missing_${randomBytes(4).toString('hex')}`;
    const run = await runGatehouseToExit({
      DATABASE_URL: withDatabase(baseDatabaseUrl, { database: missing, password: 'hunter2' }),
    });
    assert.equal(run.code, 1, run.stderr);
    const lines = problemLines(run);
    assert.equal(lines.length, 1, run.stderr);
    assert.match(
      lines[0] ?? '',
      new RegExp(`database "${missing}" does not exist: create it \\(createdb `),
    );
    assert.match(lines[0] ?? '', /DATABASE_URL=postgres:\/\/[^:]+:\*\*\*@/);
    assert.doesNotMatch(run.stderr, /hunter2/);
  });

  it('says when the connection is refused, naming host and port', async () => {
    const port = await freePort();
    const run = await runGatehouseToExit({
      DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/gatehouse`,
    });
    assert.equal(run.code, 1, run.stderr);
    const lines = problemLines(run);
    assert.equal(lines.length, 1, run.stderr);
    assert.match(
      lines[0] ?? '',
      new RegExp(
        `PostgreSQL at 127\\.0\\.0\\.1:${port} \\(DATABASE_URL=.*\\): connection refused.*start PostgreSQL`,
      ),
    );
  });

  it('says when the server does not answer within DATABASE_CONNECT_TIMEOUT_MS', async () => {
    // Accepts the TCP connection and then says nothing, like a wrong port behind a proxy.
    const silent = await occupyPort();
    try {
      const run = await runGatehouseToExit({
        DATABASE_URL: `postgres://postgres@127.0.0.1:${silent.port}/gatehouse`,
        DATABASE_CONNECT_TIMEOUT_MS: '300',
      });
      assert.equal(run.code, 1, run.stderr);
      const lines = problemLines(run);
      assert.equal(lines.length, 1, run.stderr);
      assert.match(lines[0] ?? '', /no answer within 300 ms \(DATABASE_CONNECT_TIMEOUT_MS\)/);
    } finally {
      silent.server.close();
    }
  });

  it('says when the server refuses the user', async () => {
    const user = `nobody_${randomBytes(4).toString('hex')}`;
    const run = await runGatehouseToExit({ DATABASE_URL: withDatabase(db.url, { user }) });
    assert.equal(run.code, 1, run.stderr);
    const lines = problemLines(run);
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0] ?? '', new RegExp(`refused user "${user}"`));
  });

  it('a failing initdb of the embedded database is one line with the cause and the fix', async () => {
    const dataDir = await createDataDir({ traversable: true });
    try {
      // What a start interrupted long ago can leave: a cluster directory without a cluster.
      await mkdir(join(dataDir.path, 'postgres'), { recursive: true });
      await writeFile(join(dataDir.path, 'postgres', 'leftover'), 'x');
      const run = await runGatehouseToExit({
        DATA_DIR: dataDir.path,
        EMBEDDED_POSTGRES_PORT: String(await freePort()),
      });
      assert.equal(run.code, 1, run.stderr);
      const lines = problemLines(run);
      assert.equal(lines.length, 1, run.stderr);
      assert.match(
        lines[0] ?? '',
        /^gatehouse: embedded PostgreSQL: initdb failed in .*postgres: .*exists but is not empty.*: delete .* set DATA_DIR to a new directory, or set DATABASE_URL$/,
      );
    } finally {
      await dataDir.remove();
    }
  });
});

describe('the test suite without PostgreSQL', () => {
  it('npm test stops at once with one message and a non-zero exit', {
    // The probe itself runs `npm test`: a broken check must not recurse into this test again.
    skip: process.env.GATEHOUSE_SUITE_PROBE === '1' && 'inside the probe',
  }, async () => {
    const port = await freePort();
    const npm = join(dirname(process.execPath), 'npm');
    // Without NODE_TEST_CONTEXT, which would make the inner runner refuse to run files.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const child = spawn(existsSync(npm) ? npm : 'npm', ['test'], {
      cwd: REPO_ROOT,
      env: {
        ...env,
        GATEHOUSE_SUITE_PROBE: '1',
        DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/postgres`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so the whole tree can be stopped below
    });
    let output = '';
    child.stdout?.on('data', (d) => {
      output += String(d);
    });
    child.stderr?.on('data', (d) => {
      output += String(d);
    });
    // Bounded only so that a broken check cannot keep the suite busy with a whole inner run.
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, 60_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(timer);
    assert.notEqual(code, 0, output);
    const mentions = output.split('\n').filter((l) => l.includes(`127.0.0.1:${port}`));
    assert.equal(mentions.length, 1, output);
    assert.match(
      mentions[0] ?? '',
      /^cannot run the tests: PostgreSQL at .*connection refused.*start PostgreSQL/,
    );
    assert.doesNotMatch(output, /^# tests|^ℹ tests|▶/m, 'the test runner did not start');
  });
});
