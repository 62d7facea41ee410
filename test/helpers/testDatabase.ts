import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Base URL of the PostgreSQL server tests create their databases on. */
export const baseDatabaseUrl =
  process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Runs `fn` on a connection to the base database (for CREATE/DROP DATABASE and server facts). */
export async function onServer<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: baseDatabaseUrl,
    connectionTimeoutMillis: 3000,
  });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `cannot reach PostgreSQL at ${new URL(baseDatabaseUrl).host} (set DATABASE_URL): ${(error as Error).message}`,
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  url: string;
  name: string;
  /** A small pool on the database (owned by the caller; closed by drop()). */
  pool: pg.Pool;
  /** Runs SQL as the test owner (assertions on rows; never used to fake behaviour). */
  query<R extends pg.QueryResultRow = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<R[]>;
  drop(): Promise<void>;
}

/** A fresh, empty database `<prefix>_<random>` (a test file's, the benchmark's); dropped by `drop()`. */
export async function createTestDatabase(prefix = 'gatehouse_test'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await onServer((c) => c.query(`CREATE DATABASE ${name}`));
  const url = withDatabase(baseDatabaseUrl, name);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  // An idle connection killed by DROP DATABASE ... WITH (FORCE) must not crash the runner.
  pool.on('error', () => {});
  let dropped = false;
  return {
    url,
    name,
    pool,
    async query(text, values) {
      return (await pool.query(text, values)).rows;
    },
    async drop() {
      if (dropped) return;
      dropped = true;
      await pool.end().catch(() => {});
      await onServer((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
