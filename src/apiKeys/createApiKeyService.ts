import type { AuditScope } from '../admin/AuditScope.ts';
import type { Principal } from '../auth/Principal.ts';
import type { ApiKey, CreatedApiKey } from '../domain/ApiKey.ts';
import type { KeyPage, KeyPageRequest } from './ownerApiKeys.ts';
import {
  createOwnApiKey,
  getOwnApiKey,
  listOwnApiKeys,
  type NewOwnKeyInput,
  type RotateOwnKeyInput,
  revokeOwnApiKey,
  rotateOwnApiKey,
  type UserApiKeyDeps,
} from './userApiKeys.ts';

/**
 * The ApiKeyService use cases (a user's own keys) bound to their dependencies. Who may call and
 * the one audit event of the state changes are the request path's (each RPC's call policy);
 * the caller's principal names the user whose keys they are.
 */
export interface ApiKeyService {
  createApiKey(audit: AuditScope, caller: Principal, input: NewOwnKeyInput): Promise<CreatedApiKey>;
  listApiKeys(caller: Principal, page: KeyPageRequest): Promise<KeyPage>;
  getApiKey(caller: Principal, apiKeyId: string): Promise<ApiKey>;
  revokeApiKey(audit: AuditScope, caller: Principal, apiKeyId: string): Promise<ApiKey>;
  rotateApiKey(
    audit: AuditScope,
    caller: Principal,
    input: RotateOwnKeyInput,
  ): Promise<CreatedApiKey>;
}

/** Binds the user-key use cases to the pool, the page-token codec and the key limits. */
export function createApiKeyService(deps: UserApiKeyDeps): ApiKeyService {
  return {
    createApiKey: (audit, caller, input) => createOwnApiKey(deps, audit, caller, input),
    listApiKeys: (caller, page) => listOwnApiKeys(deps, caller, page),
    getApiKey: (caller, id) => getOwnApiKey(deps, caller, id),
    revokeApiKey: revokeOwnApiKey,
    rotateApiKey: (audit, caller, input) => rotateOwnApiKey(deps, audit, caller, input),
  };
}
