import { z } from 'zod';
import {
  isRedisClusterUrl,
  parseRedisClusterUrl,
  REDIS_CLUSTER_URL_FORM,
} from '../redis/parseRedisClusterUrl.ts';
import { checkedUrl, int } from './envFields.ts';

/**
 * Why `value` is not a usable Redis address, or null when it is. Accepts what ioredis accepts:
 * redis:// and rediss:// URLs, a unix socket path, and the scheme-less host:port, plus a Redis
 * Cluster as redis+cluster:// or rediss+cluster:// with a comma-separated node list.
 */
function redisUrlProblem(value: string): string | null {
  if (value.startsWith('/') && !value.startsWith('//')) return null;
  const expected =
    'expected redis://[user:password@]host:6379[/db], rediss://… (TLS), host:port, ' +
    `or a cluster as ${REDIS_CLUSTER_URL_FORM}`;
  if (isRedisClusterUrl(value)) {
    try {
      parseRedisClusterUrl(value);
      return null;
    } catch (error) {
      return `${(error as Error).message}; expected ${REDIS_CLUSTER_URL_FORM}`;
    }
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'redis' && scheme !== 'rediss') {
    return `the URL must start with redis://, rediss:// or redis+cluster://; ${expected}`;
  }
  let url: URL;
  try {
    url = new URL(scheme !== undefined ? value : `redis://${value.replace(/^\/\//, '')}`);
  } catch {
    return `not a URL; ${expected}`;
  }
  if (url.hostname === '') return `no host in the URL; ${expected}`;
  return null;
}

/** Redis (unset: in-process limits and session cache) and the in-process layer over it. */
export const redisEnvShape = {
  REDIS_URL: checkedUrl(redisUrlProblem),
  REDIS_KEY_PREFIX: z.string().default('gh:'),
  REDIS_COMMAND_TIMEOUT_MS: int(500, 10),
  SESSION_CACHE_LOCAL_TTL_MS: int(500, 0, 60_000),
};

type RedisEnv = z.infer<z.ZodObject<typeof redisEnvShape>>;

export interface RedisConfig {
  url: string | undefined;
  keyPrefix: string;
  commandTimeoutMs: number;
}

/** In-process layer over the Redis session cache: entry lifetime, 0 = no such layer. */
export interface SessionCacheConfig {
  localTtlMs: number;
}

export function toRedisConfig(e: RedisEnv): RedisConfig {
  return {
    url: e.REDIS_URL,
    keyPrefix: e.REDIS_KEY_PREFIX,
    commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
  };
}

export function toSessionCacheConfig(e: RedisEnv): SessionCacheConfig {
  return { localTtlMs: e.SESSION_CACHE_LOCAL_TTL_MS };
}
