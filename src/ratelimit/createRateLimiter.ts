import type { Cluster, Redis } from 'ioredis';
import { MemorySlidingWindowRateLimiter } from './MemorySlidingWindowRateLimiter.ts';
import { SlidingWindowRateLimiter } from './SlidingWindowRateLimiter.ts';

/** One rate limit: `points` per sliding `durationSec`, optionally blocking for `blockDurationSec` once exceeded. */
export interface RateLimitConfig {
  keyPrefix: string;
  points: number;
  durationSec: number;
  blockDurationSec?: number;
  /** Redis started failing: this limit is now enforced per process. Called once per outage. */
  onFallback?: (event: { keyPrefix: string; error: unknown }) => void;
  /** Redis answers again after onFallback. */
  onRecover?: (event: { keyPrefix: string }) => void;
}

/** What createRateLimiter returns; both speak the rate-limiter-flexible API. */
export type RateLimiter = SlidingWindowRateLimiter | MemorySlidingWindowRateLimiter;

/**
 * redis: shared sliding window in Redis. in-process: no Redis configured (embedded single
 * instance). degraded: Redis is configured but failing, so the in-process insurance limiter
 * answers and each instance enforces the limit on its own.
 */
export interface RateLimiterStatus {
  mode: 'redis' | 'in-process' | 'degraded';
  lastErrorAt: number | null;
  lastError: string | null;
}

/**
 * Builds a sliding-window limiter: on `redis` with an in-process insurance limiter of the same
 * limits, or (redis null) in-process only. The client should fail fast when Redis is down
 * (enableOfflineQueue false, low maxRetriesPerRequest, commandTimeout; see createRedis.ts) and
 * must not use lazyConnect, since a not-ready client is never sent commands.
 *
 * Both paths use the same algorithm, so falling back keeps the no-double-burst guarantee; the
 * insurance is MemorySlidingWindowRateLimiter rather than the library's fixed-window
 * RateLimiterMemory for that reason. Its state is per process and starts empty, so during an
 * outage a client can get `points` per instance, and what it spent in Redis is forgotten.
 */
export function createRateLimiter(
  redis: Redis | Cluster | null,
  config: RateLimitConfig,
): RateLimiter {
  const limits = {
    keyPrefix: config.keyPrefix,
    points: config.points,
    duration: config.durationSec,
    blockDuration: config.blockDurationSec ?? 0,
  };
  const local = new MemorySlidingWindowRateLimiter(limits);
  if (redis === null) return local;
  const { keyPrefix, onFallback, onRecover } = config;
  return new SlidingWindowRateLimiter({
    ...limits,
    storeClient: redis,
    insuranceLimiter: local,
    rejectIfRedisNotReady: true,
    onFallback: onFallback === undefined ? undefined : (error) => onFallback({ keyPrefix, error }),
    onRecover: onRecover === undefined ? undefined : () => onRecover({ keyPrefix }),
  });
}

/** Where `limiter` enforces limits right now, for health checks and metrics. */
export function rateLimiterStatus(limiter: RateLimiter): RateLimiterStatus {
  if (limiter instanceof MemorySlidingWindowRateLimiter) {
    return { mode: 'in-process', lastErrorAt: null, lastError: null };
  }
  const health = limiter.storeHealth();
  return {
    mode: health.healthy ? 'redis' : 'degraded',
    lastErrorAt: health.lastErrorAt,
    lastError: health.lastError,
  };
}
