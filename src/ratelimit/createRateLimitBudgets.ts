import { createHash } from 'node:crypto';
import { type Cluster, type Redis, ReplyError } from 'ioredis';
import { AppError } from '../errors/AppError.ts';
import type { Logger } from '../log.ts';
import {
  createFallbackSlidingWindowLimiter,
  type FallbackSlidingWindowLimiter,
} from './createFallbackSlidingWindowLimiter.ts';
import { createMemorySlidingWindowStore } from './createMemorySlidingWindowStore.ts';
import {
  createRedisSlidingWindowLimiter,
  createRedisSlidingWindows,
  TAG_SEPARATOR,
  type WindowSpend,
} from './createRedisSlidingWindowLimiter.ts';
import {
  createSlidingWindowLimiter,
  type SlidingWindowLimiter,
} from './createSlidingWindowLimiter.ts';
import { sourceKey } from './sourceKey.ts';

/** A limit: `points` calls per sliding window of `windowSec`. */
export interface LimitSetting {
  points: number;
  windowSec: number;
}

export interface RateLimitSettings {
  /** Per source address (IPv6 by /64) on cheap calls. */
  ipRead: LimitSetting;
  /** Per source address on calls that check or create credentials. */
  ipCredential: LimitSetting;
  /** Per account (normalised identifier, whether or not it exists). */
  account: LimitSetting;
  /** Per (account, source address). */
  accountIp: LimitSetting;
  /** Per API key: every call made with it (or with a token minted from it). */
  apiKey: LimitSetting;
}

export type CallClass = 'read' | 'credential';

/**
 * redis: shared sliding windows in Redis. in-process: no Redis configured (embedded single
 * instance). degraded: Redis is configured but failing, so the in-process insurance answers
 * and each instance enforces the limits on its own.
 */
export type RateLimitMode = 'redis' | 'in-process' | 'degraded';

export interface RateLimitBudgets {
  /** Per-source limit for every call; throws RATE_LIMITED with the retry delay. */
  admitSource(callClass: CallClass, clientIp: string): Promise<void>;
  /**
   * Gives back what one admitSource took: for a check paid for up front that turned out not to
   * be a failed attempt (a legacy API key lookup that found a live key).
   */
  refundSource(callClass: CallClass, clientIp: string): Promise<void>;
  /** Per-account and per-(account, source) limits of a credential action. */
  admitAccount(action: string, account: string, clientIp: string): Promise<void>;
  /** The budget of API key `apiKeyId` (its id, never its secret, is in the key). */
  admitApiKey(apiKeyId: string): Promise<void>;
  /** Where limits are enforced right now (redis / in-process / degraded). */
  status(): RateLimitMode;
}

export interface RateLimitHooks {
  onRejected?(limit: string): void;
}

// Accounts are hashed into keys: Redis never holds an email address in clear.
const accountKey = (action: string, account: string) =>
  `${action}:${createHash('sha256').update(account).digest('base64url').slice(0, 22)}`;

/**
 * The sliding-window limits of Gatehouse on one shared Redis (one budget across instances,
 * through rate-limiter-flexible), or in-process without Redis. When Redis fails, every limit
 * falls back to an in-process limiter within milliseconds (never unlimited), which is logged and
 * reported by status().
 */
export function createRateLimitBudgets(
  redis: Redis | Cluster | null,
  keyPrefix: string,
  settings: RateLimitSettings,
  log: Logger,
  hooks: RateLimitHooks = {},
): RateLimitBudgets {
  /** One limit: in-process, or on Redis with the in-process fallback (`onRedis`). */
  interface Budget {
    name: string;
    limiter: SlidingWindowLimiter;
    onRedis: { fallback: FallbackSlidingWindowLimiter; spend: Omit<WindowSpend, 'key'> } | null;
  }
  const make = (name: string, s: LimitSetting): Budget => {
    const limit = { points: s.points, durationSec: s.windowSec };
    const local = createSlidingWindowLimiter(createMemorySlidingWindowStore(), limit);
    if (redis === null) return { name, limiter: local, onRedis: null };
    const limitPrefix = `${keyPrefix}rl:${name}`;
    const fallback = createFallbackSlidingWindowLimiter(
      createRedisSlidingWindowLimiter(redis, limit, { keyPrefix: limitPrefix }),
      local,
      {
        onFallback: (error) =>
          log.error(
            { limit: name, err: error instanceof Error ? error.message : String(error) },
            'rate limits fell back to in-process enforcement (Redis unavailable)',
          ),
        onRecover: () => log.info({ limit: name }, 'rate limits are enforced in Redis again'),
      },
    );
    return {
      name,
      limiter: fallback,
      onRedis: { fallback, spend: { keyPrefix: limitPrefix, limit } },
    };
  };
  const budgets = {
    ipRead: make('ip_read', settings.ipRead),
    ipCredential: make('ip_credential', settings.ipCredential),
    account: make('account', settings.account),
    accountIp: make('account_ip', settings.accountIp),
    apiKey: make('api_key', settings.apiKey),
  };
  const fallbacks = Object.values(budgets).flatMap((b) => (b.onRedis ? [b.onRedis.fallback] : []));
  const windows = redis === null ? null : createRedisSlidingWindows(redis);
  let scriptFailureLogged = false;

  type Entry = [budget: Budget, key: string];
  interface Refusal {
    name: string;
    msBeforeNext: number;
  }

  /**
   * Every limit of a call in one script on Redis, all or nothing: the call's keys share a hash
   * tag (the source address, or the account), so they are one Cluster slot. Null when that path
   * cannot answer (no Redis, a limit degraded to in-process, or Redis failed just now), and the
   * limits are spent one by one instead, where each falls back on its own and reports it.
   */
  const spendTogether = async (entries: Entry[]): Promise<Refusal[] | null> => {
    if (windows === null || entries.length < 2) return null;
    const spends: WindowSpend[] = [];
    for (const [{ onRedis }, key] of entries) {
      if (onRedis === null || onRedis.fallback.status().mode !== 'redis') return null;
      spends.push({ ...onRedis.spend, key });
    }
    try {
      const { allowed, decisions } = await windows.consume(spends);
      if (allowed) return [];
      return entries.flatMap(([{ name }], i) => {
        const decision = decisions[i];
        return decision === undefined || decision.allowed
          ? []
          : [{ name, msBeforeNext: decision.msBeforeNext }];
      });
    } catch (error) {
      // A Redis outage: spendEach's fallbacks report it. A script Redis answers with an error
      // (CROSSSLOT, say) would leave every call on the slower path unnoticed: logged, once.
      if (!scriptFailureLogged && error instanceof ReplyError) {
        scriptFailureLogged = true;
        log.warn(
          { err: (error as Error).message },
          "rate limits: spending a call's limits in one script failed; spending them one by one",
        );
      }
      return null;
    }
  };

  /**
   * Consumes one point from each limit, one call each. If any refuses, the points taken from
   * the others are given back.
   */
  const spendEach = async (entries: Entry[]): Promise<Refusal[]> => {
    const spent = await Promise.all(
      entries.map(async ([{ name, limiter }, key]) => ({
        name,
        limiter,
        key,
        ...(await limiter.consume(key)),
      })),
    );
    const refused = spent.filter((s) => !s.allowed);
    if (refused.length > 0) {
      await Promise.all(spent.filter((s) => s.allowed).map((s) => s.limiter.refund(s.key)));
    }
    return refused;
  };

  /**
   * Consumes one point from each limit, or none: a refused call costs nothing, so RetryInfo's
   * delay is exact and one exhausted limit (say, one account from one source) does not drain a
   * wider one.
   */
  const consumeAll = async (entries: Entry[]) => {
    const refused = (await spendTogether(entries)) ?? (await spendEach(entries));
    const rejected = refused[0]?.name;
    if (rejected === undefined) return;
    const retryAfterMs = Math.max(...refused.map((s) => s.msBeforeNext));
    hooks.onRejected?.(rejected);
    throw new AppError('RATE_LIMITED', 'too many requests; retry after the delay in RetryInfo', {
      retryAfterMs: Math.max(1, Math.ceil(retryAfterMs)),
      metadata: { limit: rejected },
    });
  };

  return {
    admitSource(callClass, clientIp) {
      const source = sourceKey(clientIp);
      return callClass === 'read'
        ? consumeAll([[budgets.ipRead, source]])
        : consumeAll([
            [budgets.ipRead, source],
            [budgets.ipCredential, source],
          ]);
    },
    async refundSource(callClass, clientIp) {
      const source = sourceKey(clientIp);
      await Promise.all([
        budgets.ipRead.limiter.refund(source),
        ...(callClass === 'credential' ? [budgets.ipCredential.limiter.refund(source)] : []),
      ]);
    },
    admitAccount(action, account, clientIp) {
      const key = accountKey(action, account);
      return consumeAll([
        [budgets.account, key],
        [budgets.accountIp, `${key}${TAG_SEPARATOR}${sourceKey(clientIp)}`],
      ]);
    },
    admitApiKey(apiKeyId) {
      return consumeAll([[budgets.apiKey, apiKeyId]]);
    },
    status() {
      if (redis === null) return 'in-process';
      return fallbacks.some((limiter) => limiter.status().mode === 'degraded')
        ? 'degraded'
        : 'redis';
    },
  };
}
