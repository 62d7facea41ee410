import type { ApiKeyLimits } from '../config/apiKeyConfig.ts';
import type { ApiKeyOwner, CreatedApiKey } from '../domain/ApiKey.ts';
import { invalidArgument } from '../errors/AppError.ts';
import { expireApiKeySecrets, lockApiKeyOfOwner, updateApiKeyExpiry } from '../storage/apiKeys.ts';
import type { Db } from '../storage/Db.ts';
import { addNewSecret, maxKeyTtlMs } from './createApiKey.ts';
import { boundedKeyExpiry, checkKeyExpiry } from './keyExpiry.ts';
import { apiKeyNotFound } from './ownerApiKeys.ts';

/** The longest a rotated-away secret may keep working: 7 days. */
export const MAX_ROTATION_OVERLAP_MS = 7 * 86_400_000;

export interface RotateApiKeyInput {
  owner: ApiKeyOwner;
  apiKeyId: string;
  /** How long the key's earlier secrets keep working, 0 to MAX_ROTATION_OVERLAP_MS (checked). */
  overlapMs: number;
  /** The key's new expiry; null: keep it, within the maximum lifetime from now. */
  expiresAt: Date | null;
}

/**
 * Gives a live key of `owner` a new secret, in the caller's transaction `tx` (which also writes
 * the audit row): its earlier secrets stop `overlapMs` from now (or sooner, if they already
 * would), its expiry becomes the requested one or stays, bounded by the maximum lifetime from
 * now. The key's row is locked, so rotations and revocations of one key queue up. A revoked or
 * expired key, or one of another owner, is API_KEY_NOT_FOUND. Every change announces the key
 * (k:<id>), so caches drop what they hold at once; a secret's end in the future needs no
 * announcement: the hot path compares it with the clock on every use. Returns the key and its
 * new secret, shown to the caller once.
 */
export async function rotateApiKey(
  tx: Db,
  input: RotateApiKeyInput,
  limits: ApiKeyLimits,
): Promise<CreatedApiKey> {
  const key = await lockApiKeyOfOwner(tx, input.apiKeyId, input.owner);
  const now = Date.now();
  const dead =
    key !== null && (key.revokedAt !== null || (key.expiresAt?.getTime() ?? Infinity) <= now);
  if (key === null || dead) throw apiKeyNotFound(input.owner);
  const maxTtlMs = maxKeyTtlMs(limits, input.owner);
  const expiry = checkKeyExpiry(input.expiresAt, maxTtlMs, now);
  if (expiry !== null) throw invalidArgument([expiry]);
  const expiresAt = boundedKeyExpiry(input.expiresAt, key.expiresAt, maxTtlMs, now);
  await expireApiKeySecrets(tx, key.id, input.overlapMs);
  if (expiresAt?.getTime() !== key.expiresAt?.getTime()) {
    await updateApiKeyExpiry(tx, key.id, expiresAt);
  }
  const { secret, displayPrefix } = await addNewSecret(tx, key.id);
  return { apiKey: { ...key, expiresAt, displayPrefix }, secret };
}
