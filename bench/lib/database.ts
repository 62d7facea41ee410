import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';

/** Where the benchmark database is created (like test/helpers/testDatabase.ts). */
export const baseDatabaseUrl =
  process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function onServer<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
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

export interface BenchDatabase {
  name: string;
  url: string;
  /** A small pool owned by the orchestrator: seeding, pg_stat_activity, assertions. */
  pool: pg.Pool;
  drop(): Promise<void>;
}

/** A fresh database `gatehouse_bench_<random>`, dropped again by drop(). */
export async function createBenchDatabase(): Promise<BenchDatabase> {
  const name = `gatehouse_bench_${randomBytes(6).toString('hex')}`;
  await onServer((c) => c.query(`CREATE DATABASE ${name}`));
  const url = withDatabase(baseDatabaseUrl, name);
  const pool = new pg.Pool({ connectionString: url, max: 3 });
  pool.on('error', () => {});
  let dropped = false;
  return {
    name,
    url,
    pool,
    async drop() {
      if (dropped) return;
      dropped = true;
      await pool.end().catch(() => {});
      await onServer((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** PostgreSQL's version string of the server the benchmark runs against. */
export async function postgresVersion(): Promise<string> {
  return onServer(async (c) =>
    String((await c.query('SHOW server_version')).rows[0]?.server_version),
  );
}

export function connectRedis(): Redis {
  const client = new Redis(redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 3000 });
  client.on('error', () => {});
  return client;
}

export async function redisVersion(redis: Redis): Promise<string> {
  const info = await redis.info('server');
  return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
}

/** Redis CPU (user + system) so far in ms; the instance may be shared with other work. */
export async function redisCpuMs(redis: Redis): Promise<number | null> {
  try {
    const info = await redis.info('cpu');
    const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1]);
    const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1]);
    return Number.isFinite(user + sys) ? (user + sys) * 1000 : null;
  } catch {
    return null;
  }
}

/**
 * Deletes every key Gatehouse made under `prefix`; returns how many. That is `<prefix>*` and
 * also `{<prefix>*`: the rate limiters put the whole key, prefix included, inside a Redis
 * Cluster hash tag (src/ratelimit/SlidingWindowRateLimiter.ts, redisKeys).
 */
export async function deleteRedisKeys(redis: Redis, prefix: string): Promise<number> {
  let deleted = 0;
  for (const pattern of [`${prefix}*`, `{${prefix}*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
  }
  return deleted;
}
