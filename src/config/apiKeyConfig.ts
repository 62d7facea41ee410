import type { z } from 'zod';
import { type EnvRule, int } from './envFields.ts';

/** API keys on the hot path: how long key state is cached, how long exchanged tokens live. */
export const apiKeyEnvShape = {
  // At most a second: revocation and owner changes must reach every instance within one, even
  // when a change notification is lost.
  API_KEY_CACHE_TTL_MS: int(500, 1, 1000),
  API_KEY_ACCESS_TOKEN_TTL_SEC: int(300, 30, 86_400),
};

type ApiKeyEnv = z.infer<z.ZodObject<typeof apiKeyEnvShape>> & { ACCESS_TOKEN_TTL_SEC: number };

export interface ApiKeyConfig {
  /** Lifetime of a key's cached state in this process (ms). */
  cacheTtlMs: number;
  /** Lifetime of the access tokens ExchangeApiKey mints (s). */
  accessTokenTtlSec: number;
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

export function toApiKeyConfig(e: ApiKeyEnv): ApiKeyConfig {
  return { cacheTtlMs: e.API_KEY_CACHE_TTL_MS, accessTokenTtlSec: e.API_KEY_ACCESS_TOKEN_TTL_SEC };
}
