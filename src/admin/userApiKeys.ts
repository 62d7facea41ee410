import type { KeyPage, KeyPageRequest } from '../apiKeys/ownerApiKeys.ts';
import { listApiKeysOfOwner, revokeApiKeyOfOwner } from '../apiKeys/ownerApiKeys.ts';
import { USER_API_KEYS_LIST } from '../apiKeys/userApiKeys.ts';
import { isViolation } from '../auth/normalize.ts';
import type { ApiKey, ApiKeyOwner } from '../domain/ApiKey.ts';
import { invalidArgument } from '../errors/AppError.ts';
import { getUserById } from '../storage/users.ts';
import type { AdminDeps } from './AdminDeps.ts';
import type { AuditScope } from './AuditScope.ts';
import { checkId, requireUserId } from './requireUserId.ts';

const owner = (id: string): ApiKeyOwner => ({ kind: 'user', id });

/** ListUserApiKeys: one page of a live user's own keys (revoked ones too), oldest first. */
export function listUserApiKeys(
  deps: Pick<AdminDeps, 'pool' | 'pageTokens'>,
  userId: string,
  request: KeyPageRequest,
): Promise<KeyPage> {
  const id = requireUserId(userId);
  return listApiKeysOfOwner(deps, USER_API_KEYS_LIST, owner(id), request, () =>
    getUserById(deps.pool, id),
  );
}

/**
 * RevokeUserApiKey: revokes a key of a live user; idempotent. A key of another owner is
 * API_KEY_NOT_FOUND, like an unknown one.
 */
export async function revokeUserApiKey(
  audit: AuditScope,
  userId: string,
  apiKeyId: string,
): Promise<ApiKey> {
  const id = checkId(userId, 'user_id', 'user');
  const keyId = checkId(apiKeyId, 'api_key_id', 'key');
  if (isViolation(id) || isViolation(keyId)) {
    throw invalidArgument([id, keyId].filter(isViolation));
  }
  audit.note({ details: { key_id: keyId } });
  return audit.transaction(async (tx) => {
    await getUserById(tx, id, { forUpdate: true });
    return revokeApiKeyOfOwner(tx, owner(id), keyId);
  });
}
