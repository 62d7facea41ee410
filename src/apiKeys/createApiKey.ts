import type { ApiKeyLimits } from '../config/apiKeyConfig.ts';
import type { ApiKeyOwner, CreatedApiKey } from '../domain/ApiKey.ts';
import { AppError, invalidArgument } from '../errors/AppError.ts';
import {
  countLiveApiKeysOfOwner,
  findApiKeyOwnerState,
  insertApiKey,
  insertApiKeySecret,
} from '../storage/apiKeys.ts';
import type { Db } from '../storage/Db.ts';
import { apiKeyDisplayPrefix, generateApiKeySecret, hashApiKeySecret } from './apiKeySecret.ts';
import { boundedKeyExpiry, checkKeyExpiry } from './keyExpiry.ts';

export interface CreateApiKeyInput {
  owner: ApiKeyOwner;
  displayName: string;
  /** Must be a subset of the owner's current roles. */
  roles: readonly string[];
  /**
   * null: the key lives the maximum lifetime for its owner's kind, or does not expire when there
   * is none (it can still be revoked).
   */
  expiresAt: Date | null;
}

/** The longest lifetime a key of `owner` may have (ms), or null for none. */
export function maxKeyTtlMs(limits: ApiKeyLimits, owner: ApiKeyOwner): number | null {
  return owner.kind === 'user' ? limits.userKeyMaxTtlMs : limits.serviceAccountKeyMaxTtlMs;
}

/**
 * Adds a new random secret to key `apiKeyId` (storing only its hash and display prefix) and
 * returns it, to be shown to the caller once.
 */
export async function addNewSecret(
  tx: Db,
  apiKeyId: string,
): Promise<{ secret: string; displayPrefix: string }> {
  const secret = generateApiKeySecret();
  const displayPrefix = apiKeyDisplayPrefix(secret);
  await insertApiKeySecret(tx, { apiKeyId, secretHash: hashApiKeySecret(secret), displayPrefix });
  return { secret, displayPrefix };
}

/**
 * Creates a key for `owner` with a new secret, in the caller's transaction `tx` (which also
 * writes the audit row). A key never holds more than its owner: roles outside the owner's
 * current roles are INVALID_ARGUMENT (field `roles`), checked under a lock of the owner's row so
 * a concurrent demotion cannot slip in between. `limits` bound the expiry (INVALID_ARGUMENT on
 * `expire_time` beyond the maximum lifetime; none asked: exactly that lifetime) and a user's
 * live keys (FAILED_PRECONDITION API_KEY_LIMIT_REACHED, counted under the same lock). A missing
 * or deleted user owner is USER_NOT_FOUND; a service account owner must have been checked by
 * the caller (whose error that is), else this throws. Returns the key and its secret: the only
 * time the secret exists outside the client (only its SHA-256 is stored).
 */
export async function createApiKey(
  tx: Db,
  input: CreateApiKeyInput,
  limits: ApiKeyLimits,
): Promise<CreatedApiKey> {
  const roles = [...new Set(input.roles)].sort();
  const now = Date.now();
  const maxTtlMs = maxKeyTtlMs(limits, input.owner);
  const expiry = checkKeyExpiry(input.expiresAt, maxTtlMs, now);
  if (expiry !== null) throw invalidArgument([expiry]);
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
  const cap = input.owner.kind === 'user' ? limits.maxKeysPerUser : null;
  if (cap !== null && (await countLiveApiKeysOfOwner(tx, input.owner)) >= cap) {
    throw new AppError(
      'API_KEY_LIMIT_REACHED',
      `a user may hold at most ${cap} live API keys; revoke one first`,
    );
  }
  const expiresAt = boundedKeyExpiry(input.expiresAt, null, maxTtlMs, now);
  const apiKey = await insertApiKey(tx, { ...input, roles, expiresAt });
  const { secret, displayPrefix } = await addNewSecret(tx, apiKey.id);
  return { apiKey: { ...apiKey, displayPrefix }, secret };
}
