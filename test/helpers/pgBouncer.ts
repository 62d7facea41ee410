import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { baseDatabaseUrl } from './testDatabase.ts';

/** Debian's pgbouncer package puts the binary here. */
export const PGBOUNCER_BIN = '/usr/sbin/pgbouncer';

/** Why the PgBouncer tests cannot run here, or null when they can. */
export function pgBouncerMissing(): string | null {
  return existsSync(PGBOUNCER_BIN)
    ? null
    : `${PGBOUNCER_BIN} is not installed (apt-get install -y pgbouncer; scripts/setup-ci-services.sh does)`;
}

export interface PgBouncer {
  port: number;
  /** `baseDatabaseUrl`'s user on database `name`, through PgBouncer. */
  urlFor(name: string): string;
  /** Runs one admin console command (SHOW POOLS, SHOW SERVERS, ...) and returns its rows. */
  show<R extends pg.QueryResultRow = Record<string, unknown>>(command: string): Promise<R[]>;
  /** Everything PgBouncer wrote to stderr (its log). */
  log(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * Starts PgBouncer in front of the tests' PostgreSQL (every database, `* = host port`), in
 * transaction pooling mode with `poolSize` server connections per database and user, on a free
 * loopback port, and resolves once it accepts connections. It refuses to run as root, so as root
 * it runs as the `postgres` user (its directory is made readable for it).
 */
export async function startPgBouncer(options: { poolSize: number }): Promise<PgBouncer> {
  const upstream = new URL(baseDatabaseUrl);
  const user = decodeURIComponent(upstream.username || 'postgres');
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-pgbouncer-'));
  const port = await freePort();
  const ini = join(dir, 'pgbouncer.ini');
  // No ignore_startup_parameters: Gatehouse's connections must not need any.
  await writeFile(
    ini,
    [
      '[databases]',
      `* = host=${upstream.hostname} port=${upstream.port || '5432'}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      `admin_users = ${user}`,
      'pool_mode = transaction',
      `default_pool_size = ${options.poolSize}`,
      'max_client_conn = 500',
      'server_check_delay = 0',
      '',
    ].join('\n'),
  );
  await writeFile(join(dir, 'userlist.txt'), `"${user}" ""\n`);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { uid, gid } = await postgresIds();
    for (const path of [dir, ini, join(dir, 'userlist.txt')]) await chown(path, uid, gid);
  }
  await chmod(dir, 0o755);
  const child: ChildProcess = asRoot
    ? spawn('runuser', ['-u', 'postgres', '--', PGBOUNCER_BIN, ini], { stdio: 'pipe' })
    : spawn(PGBOUNCER_BIN, [ini], { stdio: 'pipe' });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout?.resume();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => {
    gone = true;
  });

  const urlFor = (name: string) => {
    const u = new URL(baseDatabaseUrl);
    u.hostname = '127.0.0.1';
    u.port = String(port);
    u.pathname = `/${name}`;
    return u.toString();
  };
  // Poll until it accepts a connection (bounded only so a broken install fails, not hangs).
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (gone) throw new Error(`pgbouncer exited at start:\n${stderr}`);
    const client = new pg.Client({
      connectionString: urlFor('pgbouncer'),
      connectionTimeoutMillis: 1000,
    });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SHOW VERSION');
      await client.end();
      break;
    } catch (error) {
      await client.end().catch(() => {});
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(
          `pgbouncer did not accept connections: ${(error as Error).message}\n${stderr}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    port,
    urlFor,
    async show(command) {
      const client = new pg.Client({ connectionString: urlFor('pgbouncer') });
      await client.connect();
      try {
        return (await client.query(command)).rows;
      } finally {
        await client.end();
      }
    },
    log: () => stderr,
    async stop() {
      if (!gone) {
        // runuser passes SIGTERM on to pgbouncer: immediate shutdown, server connections closed.
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const line = (await readFile('/etc/passwd', 'utf8'))
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) {
    throw new Error('running as root, but there is no postgres user to run pgbouncer as');
  }
  return { uid: Number(uid), gid: Number(gid) };
}
