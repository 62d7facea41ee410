import type { ApiKey } from '../domain/ApiKey.ts';

/** Audit details of a new key: which key, what it may do; never its secret. */
export function keyAuditDetails(key: ApiKey): Record<string, string> {
  return {
    key_id: key.id,
    roles: key.roles.join(','),
    ...(key.expiresAt === null ? {} : { expires_at: key.expiresAt.toISOString() }),
  };
}
