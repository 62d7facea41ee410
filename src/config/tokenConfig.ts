import { z } from 'zod';
import { DEFAULT_VERIFIED_CACHE_BYTES } from '../keys/createAccessTokens.ts';
import { type EnvRule, int, optionalString } from './envFields.ts';

/** Access tokens (issuer, audience, algorithm, keys) and the sessions refresh tokens extend. */
export const tokenEnvShape = {
  JWT_ISSUER: z.string().min(1).default('gatehouse'),
  JWT_AUDIENCE: z.string().min(1).default('gatehouse'),
  JWT_ALGORITHM: z.enum(['RS256', 'ES256', 'EdDSA']).default('RS256'),
  JWT_CLOCK_SKEW_SEC: int(30, 0, 300),
  JWT_KEY_REFRESH_SEC: int(5, 1, 3600),
  JWT_PRIVATE_KEY_FILE: optionalString,
  ACCESS_TOKEN_TTL_SEC: int(900, 30, 86_400),
  SESSION_IDLE_TIMEOUT_SEC: int(7 * 86_400, 60),
  SESSION_ABSOLUTE_LIFETIME_SEC: int(30 * 86_400, 60),
  REFRESH_REUSE_GRACE_SEC: int(10, 0, 300),
  VERIFIED_TOKEN_CACHE_MAX_BYTES: int(DEFAULT_VERIFIED_CACHE_BYTES, 64 * 1024),
};

type TokenEnv = z.infer<z.ZodObject<typeof tokenEnvShape>>;

export interface TokenConfig {
  issuer: string;
  audience: string;
  algorithm: TokenEnv['JWT_ALGORITHM'];
  clockSkewSec: number;
  keyRefreshSec: number;
  privateKeyFile: string | undefined;
  accessTtlSec: number;
  sessionIdleSec: number;
  sessionAbsoluteSec: number;
  reuseGraceSec: number;
  /** Bound of the in-process cache of verified access tokens, in bytes. */
  verifiedCacheMaxBytes: number;
}

export const tokenEnvRules: EnvRule<TokenEnv>[] = [
  {
    reads: ['SESSION_IDLE_TIMEOUT_SEC', 'SESSION_ABSOLUTE_LIFETIME_SEC'],
    problems: (e) =>
      e.SESSION_IDLE_TIMEOUT_SEC > e.SESSION_ABSOLUTE_LIFETIME_SEC
        ? ['SESSION_IDLE_TIMEOUT_SEC: must not exceed SESSION_ABSOLUTE_LIFETIME_SEC']
        : [],
  },
];

export function toTokenConfig(e: TokenEnv): TokenConfig {
  return {
    issuer: e.JWT_ISSUER,
    audience: e.JWT_AUDIENCE,
    algorithm: e.JWT_ALGORITHM,
    clockSkewSec: e.JWT_CLOCK_SKEW_SEC,
    keyRefreshSec: e.JWT_KEY_REFRESH_SEC,
    privateKeyFile: e.JWT_PRIVATE_KEY_FILE,
    accessTtlSec: e.ACCESS_TOKEN_TTL_SEC,
    sessionIdleSec: e.SESSION_IDLE_TIMEOUT_SEC,
    sessionAbsoluteSec: e.SESSION_ABSOLUTE_LIFETIME_SEC,
    reuseGraceSec: e.REFRESH_REUSE_GRACE_SEC,
    verifiedCacheMaxBytes: e.VERIFIED_TOKEN_CACHE_MAX_BYTES,
  };
}
