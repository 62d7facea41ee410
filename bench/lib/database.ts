import { Redis } from 'ioredis';
import {
  createTestDatabase,
  onServer,
  redisUrl,
  type TestDatabase,
} from '../../test/helpers/testDatabase.ts';

export { baseDatabaseUrl, redisUrl } from '../../test/helpers/testDatabase.ts';

/** The benchmark's database: the tests' scratch database helper, named gatehouse_bench_*. */
export type BenchDatabase = TestDatabase;

/** A fresh database `gatehouse_bench_<random>`, dropped again by drop(). */
export function createBenchDatabase(): Promise<BenchDatabase> {
  return createTestDatabase('gatehouse_bench');
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

/** Deletes every key Gatehouse made under `prefix` (all of them start with it); returns how many. */
export async function deleteRedisKeys(redis: Redis, prefix: string): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}
