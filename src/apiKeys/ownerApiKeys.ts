import { isViolation } from '../auth/normalize.ts';
import type { ApiKey, ApiKeyOwner } from '../domain/ApiKey.ts';
import { AppError, invalidArgument } from '../errors/AppError.ts';
import { createdAtPage, type PageTokens } from '../paging/createPageTokens.ts';
import { pageSize } from '../paging/pageSize.ts';
import { findApiKeysPageByOwner, revokeApiKey } from '../storage/apiKeys.ts';
import type { DatabasePool } from '../storage/createDatabase.ts';
import type { Db } from '../storage/Db.ts';

/** page_size and page_token of a list of keys. */
export interface KeyPageRequest {
  pageSize: number;
  pageToken: string;
}

/** One page of keys and the token of the next (empty on the last page). */
export interface KeyPage {
  apiKeys: ApiKey[];
  nextPageToken: string;
}

/**
 * One page of `owner`'s keys (revoked and expired ones too), oldest first, by keyset. The page
 * token is signed for `listKind` and the owner, so it is refused for another owner or list.
 * `checkOwner` runs after the request is validated and before the keys are read (NOT_FOUND
 * for an owner that does not exist).
 */
export async function listApiKeysOfOwner(
  deps: { pool: DatabasePool; pageTokens: PageTokens },
  listKind: string,
  owner: ApiKeyOwner,
  request: KeyPageRequest,
  checkOwner: () => Promise<unknown> = async () => {},
): Promise<KeyPage> {
  const limit = pageSize(request.pageSize);
  if (isViolation(limit)) throw invalidArgument([limit]);
  const filter = [owner.id];
  const { page, nextPageToken } = await createdAtPage(
    deps.pageTokens,
    listKind,
    filter,
    request.pageToken,
    limit,
    async (after, rows) => {
      await checkOwner();
      return findApiKeysPageByOwner(deps.pool, owner, after, rows);
    },
  );
  return { apiKeys: page.map((e) => e.apiKey), nextPageToken };
}

/**
 * Revokes key `apiKeyId` of `owner` in `tx`; idempotent (the first revocation time stays). The
 * row's notification (k:<id>) reaches every instance's key cache within a second. A key of
 * another owner is API_KEY_NOT_FOUND, like an unknown one, so ids cannot be probed.
 */
export async function revokeApiKeyOfOwner(
  tx: Db,
  owner: ApiKeyOwner,
  apiKeyId: string,
): Promise<ApiKey> {
  const revoked = await revokeApiKey(tx, apiKeyId, owner);
  if (revoked === null) throw apiKeyNotFound(owner);
  return revoked;
}

/** API_KEY_NOT_FOUND, worded for the owner's kind. */
export function apiKeyNotFound(owner: ApiKeyOwner): AppError {
  const noun = owner.kind === 'user' ? 'user' : 'service account';
  return new AppError('API_KEY_NOT_FOUND', `this ${noun} has no such key`);
}
