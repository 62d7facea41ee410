import type { Redis } from 'ioredis';

/**
 * Every key under `prefix` and its value as JSON, alternating (key, value, key, value, ...):
 * what a test searches for leaked secrets. Connects `redis` if it is not connected yet.
 */
export async function redisDump(redis: Redis, prefix: string): Promise<string[]> {
  if (redis.status === 'wait') await redis.connect();
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) {
      const type = await redis.type(k);
      const value =
        type === 'string'
          ? await redis.get(k)
          : type === 'hash'
            ? await redis.hgetall(k)
            : type === 'zset'
              ? await redis.zrange(k, '0', '-1', 'WITHSCORES')
              : type === 'list'
                ? await redis.lrange(k, 0, -1)
                : await redis.smembers(k);
      out.push(k, JSON.stringify(value));
    }
  } while (cursor !== '0');
  return out;
}
