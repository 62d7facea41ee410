import type { z } from 'zod';
import { type EnvRule, int } from './envFields.ts';

/**
 * API keys: how long key state is cached on the hot path, how long exchanged tokens live, and
 * the limits on new keys (lifetime, live keys per user).
 */
export const apiKeyEnvShape = {
  // At most a second: revocation and owner changes must reach every instance within one, even
  // when a change notification is lost.
  API_KEY_CACHE_TTL_MS: int(500, 1, 1000),
  API_KEY_ACCESS_TOKEN_TTL_SEC: int(300, 30, 86_400),
  // 0 = no maximum. Users' own keys expire within a year unless configured otherwise;
  // service-account keys are an administrator's to bound (none by default).
  API_KEY_MAX_TTL_DAYS: int(365, 0, 36_500),
  SERVICE_ACCOUNT_KEY_MAX_TTL_DAYS: int(0, 0, 36_500),
  // 0 = no cap.
  API_KEY_MAX_PER_USER: int(50, 0, 100_000),
};

type ApiKeyEnv = z.infer<z.ZodObject<typeof apiKeyEnvShape>> & { ACCESS_TOKEN_TTL_SEC: number };

/** What a new key (or a rotation) may ask for; see createApiKey. */
export interface ApiKeyLimits {
  /** Longest lifetime of a user's own key from its creation or rotation (ms); null: none. */
  userKeyMaxTtlMs: number | null;
  /** Longest lifetime of a service account's key (ms); null: none. */
  serviceAccountKeyMaxTtlMs: number | null;
  /** Most live (unrevoked, unexpired) keys one user may hold; null: no cap. */
  maxKeysPerUser: number | null;
}

export interface ApiKeyConfig {
  /** Lifetime of a key's cached state in this process (ms). */
  cacheTtlMs: number;
  /** Lifetime of the access tokens ExchangeApiKey mints (s). */
  accessTokenTtlSec: number;
  limits: ApiKeyLimits;
}

export const apiKeyEnvRules: EnvRule<ApiKeyEnv>[] = [
  {
    // Retired signing keys stay published for ACCESS_TOKEN_TTL_SEC: a longer-lived token could
    // outlive the key that verifies it.
    reads: ['API_KEY_ACCESS_TOKEN_TTL_SEC', 'ACCESS_TOKEN_TTL_SEC'],
    problems: (e) =>
      e.API_KEY_ACCESS_TOKEN_TTL_SEC > e.ACCESS_TOKEN_TTL_SEC
        ? ['API_KEY_ACCESS_TOKEN_TTL_SEC: must not exceed ACCESS_TOKEN_TTL_SEC']
        : [],
  },
];

const DAY_MS = 86_400_000;
const orNone = (n: number, unit = 1) => (n === 0 ? null : n * unit);

export function toApiKeyConfig(e: ApiKeyEnv): ApiKeyConfig {
  return {
    cacheTtlMs: e.API_KEY_CACHE_TTL_MS,
    accessTokenTtlSec: e.API_KEY_ACCESS_TOKEN_TTL_SEC,
    limits: {
      userKeyMaxTtlMs: orNone(e.API_KEY_MAX_TTL_DAYS, DAY_MS),
      serviceAccountKeyMaxTtlMs: orNone(e.SERVICE_ACCOUNT_KEY_MAX_TTL_DAYS, DAY_MS),
      maxKeysPerUser: orNone(e.API_KEY_MAX_PER_USER),
    },
  };
}
