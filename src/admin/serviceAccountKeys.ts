import { createApiKey } from '../apiKeys/createApiKey.ts';
import { isViolation, normalizeDisplayName } from '../auth/normalize.ts';
import type { ApiKey, ApiKeyOwner, CreatedApiKey } from '../domain/ApiKey.ts';
import { AppError, type FieldViolation, invalidArgument } from '../errors/AppError.ts';
import { keysetPage, readTimeIdCursor } from '../paging/createPageTokens.ts';
import { pageSize } from '../paging/pageSize.ts';
import { findApiKeysPageByOwner, revokeApiKey } from '../storage/apiKeys.ts';
import type { Db } from '../storage/Db.ts';
import { getServiceAccountById } from '../storage/serviceAccounts.ts';
import type { AdminDeps } from './AdminDeps.ts';
import type { AuditScope } from './AuditScope.ts';
import { requireServiceAccountId } from './getServiceAccount.ts';
import { normalizeRoles } from './normalizeRoles.ts';
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
function checkKeyRequest(input: CreateServiceAccountKeyInput): KeyRequest {
  const violations: FieldViolation[] = [];
  const id = requireServiceAccountId(input.serviceAccountId);
  const displayName = normalizeDisplayName(input.displayName);
  if (isViolation(displayName)) violations.push(displayName);
  const roles = normalizeRoles(input.roles);
  if (isViolation(roles)) violations.push(roles);
  if (input.expiresAt !== null && input.expiresAt.getTime() <= Date.now()) {
    violations.push({
      field: 'expire_time',
      description: 'must be in the future',
      reason: 'OUT_OF_RANGE',
    });
  }
  if (violations.length > 0 || isViolation(displayName) || isViolation(roles)) {
    throw invalidArgument(violations);
  }
  return { id, displayName, roles: roles.length === 0 ? null : roles, expiresAt: input.expiresAt };
}

/**
 * Creates a key of a live service account in the caller's transaction: its row is locked, so
 * the roles checked are the roles it holds at commit. A key without roles asks for all of them.
 */
async function insertKeyOf(tx: Db, request: KeyRequest): Promise<CreatedApiKey> {
  const account = await getServiceAccountById(tx, request.id, { forUpdate: true });
  return createApiKey(tx, {
    owner: owner(account.id),
    displayName: request.displayName,
    roles: request.roles ?? account.roles,
    expiresAt: request.expiresAt,
  });
}

/** Audit details of a new key: which key, what it may do; never its secret. */
export function keyAuditDetails(key: ApiKey) {
  return {
    key_id: key.id,
    roles: key.roles.join(','),
    ...(key.expiresAt === null ? {} : { expires_at: key.expiresAt.toISOString() }),
  };
}

/**
 * Creates an API key of a service account and returns it with its secret, the only time the
 * secret exists outside the client (only its SHA-256 is stored, the audit row names the key).
 */
export async function createServiceAccountKey(
  audit: AuditScope,
  input: CreateServiceAccountKeyInput,
): Promise<CreatedApiKey> {
  const request = checkKeyRequest(input);
  return audit.transaction(async (tx) => {
    const created = await insertKeyOf(tx, request);
    audit.note({ details: keyAuditDetails(created.apiKey) });
    return created;
  });
}

/** Creates a key in a transaction of the caller's (the admin CLI's), as CreateServiceAccountKey. */
export function createServiceAccountKeyIn(
  tx: Db,
  input: CreateServiceAccountKeyInput,
): Promise<CreatedApiKey> {
  return insertKeyOf(tx, checkKeyRequest(input));
}

export interface KeyPageRequest {
  pageSize: number;
  pageToken: string;
}

/** One page of a live service account's keys (revoked ones too), oldest first, by keyset. */
export async function listServiceAccountKeys(
  deps: Pick<AdminDeps, 'pool' | 'pageTokens'>,
  serviceAccountId: string,
  request: KeyPageRequest,
): Promise<{ apiKeys: ApiKey[]; nextPageToken: string }> {
  const id = requireServiceAccountId(serviceAccountId);
  const limit = pageSize(request.pageSize);
  if (isViolation(limit)) throw invalidArgument([limit]);
  const cursor = await readTimeIdCursor(
    deps.pageTokens,
    'service_account_keys',
    [id],
    request.pageToken,
  );
  await getServiceAccountById(deps.pool, id);
  const after = cursor && { createdAt: cursor.time, id: cursor.id };
  const rows = await findApiKeysPageByOwner(deps.pool, owner(id), after, limit + 1);
  const { page, nextPageToken } = await keysetPage(
    deps.pageTokens,
    'service_account_keys',
    [id],
    rows,
    limit,
    (last) => [last.cursor.createdAt, last.cursor.id],
  );
  return { apiKeys: page.map((e) => e.apiKey), nextPageToken };
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
    const before = await revokeApiKey(tx, keyId, owner(id));
    if (before === null)
      throw new AppError('API_KEY_NOT_FOUND', 'this service account has no such key');
    return before;
  });
}
