import type { AuditScope } from '../admin/AuditScope.ts';
import { requireId } from '../admin/requireUserId.ts';
import type { Principal } from '../auth/Principal.ts';
import type { ApiKeyLimits } from '../config/apiKeyConfig.ts';
import type { ApiKey, ApiKeyOwner, CreatedApiKey } from '../domain/ApiKey.ts';
import { type FieldViolation, invalidArgument } from '../errors/AppError.ts';
import type { PageTokens } from '../paging/createPageTokens.ts';
import { findApiKeyById } from '../storage/apiKeys.ts';
import type { DatabasePool } from '../storage/createDatabase.ts';
import { checkNewKeyFields } from './checkNewKeyFields.ts';
import { createApiKey } from './createApiKey.ts';
import { keyAuditDetails } from './keyAuditDetails.ts';
import { checkKeyExpiry } from './keyExpiry.ts';
import {
  apiKeyNotFound,
  type KeyPage,
  type KeyPageRequest,
  listApiKeysOfOwner,
  revokeApiKeyOfOwner,
} from './ownerApiKeys.ts';
import { MAX_ROTATION_OVERLAP_MS, rotateApiKey } from './rotateApiKey.ts';

/** What ApiKeyService's use cases need: the pool, page tokens, the limits on new keys. */
export interface UserApiKeyDeps {
  pool: DatabasePool;
  pageTokens: PageTokens;
  apiKeyLimits: ApiKeyLimits;
}

/** The page-token kind of a user's key list (the user's own and the admin's). */
export const USER_API_KEYS_LIST = 'user_api_keys';

/**
 * The user whose keys the caller manages: the user of a session or of their own key. A service
 * account here is a policy bug (ApiKeyService's policies accept users only).
 */
function ownerOf(principal: Principal): ApiKeyOwner {
  if (principal.kind === 'service_account') {
    throw new Error('a service account reached a call for users managing their own keys');
  }
  return { kind: 'user', id: principal.userId };
}

export interface NewOwnKeyInput {
  displayName: string;
  /** Empty: a key with no roles (it authenticates as the user, and holds nothing more). */
  roles: readonly string[];
  /** null: the maximum lifetime (API_KEY_MAX_TTL_DAYS), or no expiry when there is none. */
  expiresAt: Date | null;
}

/**
 * CreateApiKey: a key of the calling user asking for some of the roles the user holds now,
 * with the user as the audit event's subject; returns its secret, the only time it is shown.
 */
export async function createOwnApiKey(
  deps: UserApiKeyDeps,
  audit: AuditScope,
  principal: Principal,
  input: NewOwnKeyInput,
): Promise<CreatedApiKey> {
  const owner = ownerOf(principal);
  audit.note({ subjectUserId: owner.id });
  const fields = checkNewKeyFields(input, deps.apiKeyLimits.userKeyMaxTtlMs);
  if (Array.isArray(fields)) throw invalidArgument(fields);
  return audit.transaction(async (tx) => {
    const created = await createApiKey(tx, { owner, ...fields }, deps.apiKeyLimits);
    audit.note({ details: keyAuditDetails(created.apiKey) });
    return created;
  });
}

/** ListApiKeys: one page of the calling user's keys, revoked and expired ones too. */
export function listOwnApiKeys(
  deps: UserApiKeyDeps,
  principal: Principal,
  request: KeyPageRequest,
): Promise<KeyPage> {
  return listApiKeysOfOwner(deps, USER_API_KEYS_LIST, ownerOf(principal), request);
}

const requireKeyId = (value: string) => requireId(value, 'api_key_id', 'key');

/** GetApiKey: one of the calling user's keys; any other id is API_KEY_NOT_FOUND. */
export async function getOwnApiKey(
  deps: UserApiKeyDeps,
  principal: Principal,
  apiKeyId: string,
): Promise<ApiKey> {
  const owner = ownerOf(principal);
  const key = await findApiKeyById(deps.pool, requireKeyId(apiKeyId));
  if (key === null || key.owner.kind !== owner.kind || key.owner.id !== owner.id) {
    throw apiKeyNotFound(owner);
  }
  return key;
}

/** RevokeApiKey: revokes one of the calling user's keys (idempotent). */
export async function revokeOwnApiKey(
  audit: AuditScope,
  principal: Principal,
  apiKeyId: string,
): Promise<ApiKey> {
  const owner = ownerOf(principal);
  audit.note({ subjectUserId: owner.id });
  const id = requireKeyId(apiKeyId);
  audit.note({ details: { key_id: id } });
  return audit.transaction((tx) => revokeApiKeyOfOwner(tx, owner, id));
}

export interface RotateOwnKeyInput {
  apiKeyId: string;
  /** How long the earlier secrets keep working (ms); NaN when the request's value is invalid. */
  overlapMs: number;
  expiresAt: Date | null;
}

/**
 * RotateApiKey: a new secret for one of the calling user's live keys; the earlier ones keep
 * working for the overlap (at most 7 days). Every field is checked before the key is looked up.
 */
export async function rotateOwnApiKey(
  deps: UserApiKeyDeps,
  audit: AuditScope,
  principal: Principal,
  input: RotateOwnKeyInput,
): Promise<CreatedApiKey> {
  const owner = ownerOf(principal);
  audit.note({ subjectUserId: owner.id });
  const violations: FieldViolation[] = [];
  const id = requireKeyId(input.apiKeyId);
  const { overlapMs } = input;
  if (!Number.isFinite(overlapMs) || overlapMs < 0 || overlapMs > MAX_ROTATION_OVERLAP_MS) {
    violations.push({
      field: 'overlap',
      description: 'must be between 0 and 7 days',
      reason: 'OUT_OF_RANGE',
    });
  }
  const expiry = checkKeyExpiry(input.expiresAt, deps.apiKeyLimits.userKeyMaxTtlMs, Date.now());
  if (expiry !== null) violations.push(expiry);
  if (violations.length > 0) throw invalidArgument(violations);
  audit.note({ details: { key_id: id, overlap_sec: overlapMs / 1000 } });
  return audit.transaction(async (tx) => {
    const rotated = await rotateApiKey(
      tx,
      { owner, apiKeyId: id, overlapMs, expiresAt: input.expiresAt },
      deps.apiKeyLimits,
    );
    const { expiresAt } = rotated.apiKey;
    if (expiresAt !== null) audit.note({ details: { expires_at: expiresAt.toISOString() } });
    return rotated;
  });
}
