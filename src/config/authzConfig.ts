import { int } from './envFields.ts';

/**
 * Permission checks: how long an instance keeps a principal's effective permissions. At most a
 * second, so a membership removal or a role change reaches every instance within one even when
 * a change notification is lost.
 */
export const authzEnvShape = {
  AUTHZ_CACHE_TTL_MS: int(500, 1, 1000),
};

export interface AuthzConfig {
  /** Lifetime of cached effective permissions per (principal, organisation) (ms). */
  cacheTtlMs: number;
}

export function toAuthzConfig(e: { AUTHZ_CACHE_TTL_MS: number }): AuthzConfig {
  return { cacheTtlMs: e.AUTHZ_CACHE_TTL_MS };
}
