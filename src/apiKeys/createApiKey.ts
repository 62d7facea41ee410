import type { ApiKeyOwner, CreatedApiKey } from '../domain/ApiKey.ts';
import { AppError, invalidArgument } from '../errors/AppError.ts';
import { findApiKeyOwnerState, insertApiKey, insertApiKeySecret } from '../storage/apiKeys.ts';
import type { Db } from '../storage/Db.ts';
import { apiKeyDisplayPrefix, generateApiKeySecret, hashApiKeySecret } from './apiKeySecret.ts';

export interface CreateApiKeyInput {
  owner: ApiKeyOwner;
  displayName: string;
  /** Must be a subset of the owner's current roles. */
  roles: readonly string[];
  /** null: the key does not expire (it can still be revoked). */
  expiresAt: Date | null;
}

/**
 * Creates a key for `owner` with a new secret, in the caller's transaction `tx` (which also
 * writes the audit row). A key never holds more than its owner: roles outside the owner's
 * current roles are INVALID_ARGUMENT (field `roles`), checked under a lock of the owner's row so
 * a concurrent demotion cannot slip in between. A missing or deleted user owner is
 * USER_NOT_FOUND; a service account owner must have been checked by the caller (whose error
 * that is), else this throws. Returns the key and its secret: the only time the secret exists
 * outside the client (only its SHA-256 is stored).
 */
export async function createApiKey(tx: Db, input: CreateApiKeyInput): Promise<CreatedApiKey> {
  const roles = [...new Set(input.roles)].sort();
  if (input.expiresAt !== null && input.expiresAt.getTime() <= Date.now()) {
    throw invalidArgument([{ field: 'expire_time', description: 'must be in the future' }]);
  }
  const owner = await findApiKeyOwnerState(tx, input.owner, { forUpdate: true });
  if (owner === null || owner.status === 'deleted') {
    if (input.owner.kind === 'user') throw new AppError('USER_NOT_FOUND', 'user not found');
    throw new Error(`createApiKey: service account ${input.owner.id} does not exist`);
  }
  const held = new Set(owner.roles);
  const missing = roles.filter((r) => !held.has(r));
  if (missing.length > 0) {
    throw invalidArgument([
      {
        field: 'roles',
        description: `a key cannot hold roles its owner does not hold: ${missing.join(', ')}`,
        reason: 'ROLE_NOT_HELD',
      },
    ]);
  }
  const secret = generateApiKeySecret();
  const displayPrefix = apiKeyDisplayPrefix(secret);
  const apiKey = await insertApiKey(tx, { ...input, roles });
  await insertApiKeySecret(tx, {
    apiKeyId: apiKey.id,
    secretHash: hashApiKeySecret(secret),
    displayPrefix,
  });
  return { apiKey: { ...apiKey, displayPrefix }, secret };
}
