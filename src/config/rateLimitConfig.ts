import type { z } from 'zod';
import type { RateLimitSettings } from '../ratelimit/createRateLimitBudgets.ts';
import { int, optionalInt } from './envFields.ts';

/**
 * Rate-limit budgets when their variable is unset. Development (the default NODE_ENV) runs the
 * same limiter with budgets a person trying the service from a terminal will not reach;
 * production and test use the real ones.
 */
export const RATE_LIMIT_DEFAULTS = {
  production: { ipRead: 1200, ipCredential: 60, account: 20, accountIp: 10, apiKey: 6000 },
  development: {
    ipRead: 100_000,
    ipCredential: 10_000,
    account: 1000,
    accountIp: 1000,
    apiKey: 100_000,
  },
} as const;

/** What stops guessing: sliding-window budgets per IP, account and both, and account lockout. */
export const rateLimitEnvShape = {
  // Budgets default by NODE_ENV (RATE_LIMIT_DEFAULTS); windows are the same everywhere.
  RATE_LIMIT_IP_READ_POINTS: optionalInt(1),
  RATE_LIMIT_IP_READ_WINDOW_SEC: int(60, 1),
  RATE_LIMIT_IP_CREDENTIAL_POINTS: optionalInt(1),
  RATE_LIMIT_IP_CREDENTIAL_WINDOW_SEC: int(60, 1),
  RATE_LIMIT_ACCOUNT_POINTS: optionalInt(1),
  RATE_LIMIT_ACCOUNT_WINDOW_SEC: int(900, 1),
  RATE_LIMIT_ACCOUNT_IP_POINTS: optionalInt(1),
  RATE_LIMIT_ACCOUNT_IP_WINDOW_SEC: int(900, 1),
  // Every call made with an API key (or a token minted from one), per key.
  RATE_LIMIT_API_KEY_POINTS: optionalInt(1),
  RATE_LIMIT_API_KEY_WINDOW_SEC: int(60, 1),
  LOCKOUT_THRESHOLD: int(5, 1, 1000),
  LOCKOUT_BASE_SEC: int(900, 1),
  LOCKOUT_MAX_SEC: int(86_400, 1),
};

type RateLimitEnv = z.infer<z.ZodObject<typeof rateLimitEnvShape>> & { NODE_ENV: string };

export interface LockoutConfig {
  threshold: number;
  baseSec: number;
  maxSec: number;
}

export function toRateLimitSettings(e: RateLimitEnv): RateLimitSettings {
  const budgets =
    e.NODE_ENV === 'development' ? RATE_LIMIT_DEFAULTS.development : RATE_LIMIT_DEFAULTS.production;
  const limit = (points: number | undefined, budget: number, windowSec: number) => ({
    points: points ?? budget,
    windowSec,
  });
  return {
    ipRead: limit(e.RATE_LIMIT_IP_READ_POINTS, budgets.ipRead, e.RATE_LIMIT_IP_READ_WINDOW_SEC),
    ipCredential: limit(
      e.RATE_LIMIT_IP_CREDENTIAL_POINTS,
      budgets.ipCredential,
      e.RATE_LIMIT_IP_CREDENTIAL_WINDOW_SEC,
    ),
    account: limit(e.RATE_LIMIT_ACCOUNT_POINTS, budgets.account, e.RATE_LIMIT_ACCOUNT_WINDOW_SEC),
    accountIp: limit(
      e.RATE_LIMIT_ACCOUNT_IP_POINTS,
      budgets.accountIp,
      e.RATE_LIMIT_ACCOUNT_IP_WINDOW_SEC,
    ),
    apiKey: limit(e.RATE_LIMIT_API_KEY_POINTS, budgets.apiKey, e.RATE_LIMIT_API_KEY_WINDOW_SEC),
  };
}

export function toLockoutConfig(e: RateLimitEnv): LockoutConfig {
  return { threshold: e.LOCKOUT_THRESHOLD, baseSec: e.LOCKOUT_BASE_SEC, maxSec: e.LOCKOUT_MAX_SEC };
}
