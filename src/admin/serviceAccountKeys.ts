import { checkNewKeyFields } from '../apiKeys/checkNewKeyFields.ts';
import { createApiKey, maxKeyTtlMs } from '../apiKeys/createApiKey.ts';
import { keyAuditDetails } from '../apiKeys/keyAuditDetails.ts';
import {
  type KeyPage,
  type KeyPageRequest,
  listApiKeysOfOwner,
  revokeApiKeyOfOwner,
} from '../apiKeys/ownerApiKeys.ts';
import { isViolation } from '../auth/normalize.ts';
import type { ApiKeyLimits } from '../config/apiKeyConfig.ts';
import type { ApiKey, ApiKeyOwner, CreatedApiKey } from '../domain/ApiKey.ts';
import { invalidArgument } from '../errors/AppError.ts';
import type { Db } from '../storage/Db.ts';
import { getServiceAccountById } from '../storage/serviceAccounts.ts';
import type { AdminDeps } from './AdminDeps.ts';
import type { AuditScope } from './AuditScope.ts';
import { requireServiceAccountId } from './getServiceAccount.ts';
import { checkId } from './requireUserId.ts';

const owner = (id: string): ApiKeyOwner => ({ kind: 'service_account', id });

export interface CreateServiceAccountKeyInput {
  serviceAccountId: string;
  displayName: string;
  /** Empty: every role the account holds now. */
  roles: readonly string[];
  expiresAt: Date | null;
}

/** A checked key request: the account's id and what the key asks for. */
interface KeyRequest {
  id: string;
  displayName: string;
  roles: string[] | null;
  expiresAt: Date | null;
}

/** Validates a key request, every violation at once (roles held is checked by createApiKey). */
function checkKeyRequest(input: CreateServiceAccountKeyInput, limits: ApiKeyLimits): KeyRequest {
  const id = requireServiceAccountId(input.serviceAccountId);
  const fields = checkNewKeyFields(input, maxKeyTtlMs(limits, owner(id)));
  if (Array.isArray(fields)) throw invalidArgument(fields);
  return { id, ...fields, roles: fields.roles.length === 0 ? null : fields.roles };
}

/**
 * Creates a key of a live service account in the caller's transaction: its row is locked, so
 * the roles checked are the roles it holds at commit. A key without roles asks for all of them.
 */
async function insertKeyOf(
  tx: Db,
  request: KeyRequest,
  limits: ApiKeyLimits,
): Promise<CreatedApiKey> {
  const account = await getServiceAccountById(tx, request.id, { forUpdate: true });
  return createApiKey(
    tx,
    {
      owner: owner(account.id),
      displayName: request.displayName,
      roles: request.roles ?? account.roles,
      expiresAt: request.expiresAt,
    },
    limits,
  );
}

/**
 * Creates an API key of a service account and returns it with its secret, the only time the
 * secret exists outside the client (only its SHA-256 is stored, the audit row names the key).
 */
export async function createServiceAccountKey(
  deps: Pick<AdminDeps, 'apiKeyLimits'>,
  audit: AuditScope,
  input: CreateServiceAccountKeyInput,
): Promise<CreatedApiKey> {
  const request = checkKeyRequest(input, deps.apiKeyLimits);
  return audit.transaction(async (tx) => {
    const created = await insertKeyOf(tx, request, deps.apiKeyLimits);
    audit.note({ details: keyAuditDetails(created.apiKey) });
    return created;
  });
}

/** Creates a key in a transaction of the caller's (the admin CLI's), as CreateServiceAccountKey. */
export function createServiceAccountKeyIn(
  tx: Db,
  input: CreateServiceAccountKeyInput,
  limits: ApiKeyLimits,
): Promise<CreatedApiKey> {
  return insertKeyOf(tx, checkKeyRequest(input, limits), limits);
}

export type { KeyPageRequest };
export { keyAuditDetails };

/** One page of a live service account's keys (revoked ones too), oldest first, by keyset. */
export async function listServiceAccountKeys(
  deps: Pick<AdminDeps, 'pool' | 'pageTokens'>,
  serviceAccountId: string,
  request: KeyPageRequest,
): Promise<KeyPage> {
  const id = requireServiceAccountId(serviceAccountId);
  return listApiKeysOfOwner(deps, 'service_account_keys', owner(id), request, () =>
    getServiceAccountById(deps.pool, id),
  );
}

/**
 * Revokes a key of a live service account; idempotent (the first revocation time stays). The
 * row's notification (k:<id>) reaches every instance's key cache within a second. A key of
 * another owner is API_KEY_NOT_FOUND, like an unknown one.
 */
export async function revokeServiceAccountKey(
  audit: AuditScope,
  serviceAccountId: string,
  apiKeyId: string,
): Promise<ApiKey> {
  const id = checkId(serviceAccountId, 'service_account_id', 'service account');
  const keyId = checkId(apiKeyId, 'api_key_id', 'key');
  if (isViolation(id) || isViolation(keyId)) {
    throw invalidArgument([id, keyId].filter(isViolation));
  }
  audit.note({ details: { key_id: keyId } });
  return audit.transaction(async (tx) => {
    await getServiceAccountById(tx, id, { forUpdate: true });
    return revokeApiKeyOfOwner(tx, owner(id), keyId);
  });
}
