import type { ServiceAccount, ServiceAccountStatus } from '../domain/ServiceAccount.ts';
import { checkStatusListRequest } from '../paging/checkListRequest.ts';
import { keysetPage, readTimeIdCursor } from '../paging/createPageTokens.ts';
import { findServiceAccountsPage } from '../storage/serviceAccounts.ts';
import type { AdminDeps } from './AdminDeps.ts';

const STATUSES: readonly ServiceAccountStatus[] = ['active', 'disabled', 'deleted'];

export interface ListServiceAccountsInput {
  pageSize: number;
  pageToken: string;
  /** 'active' | 'disabled' | 'deleted', or null for every status except deleted. */
  status: string | null;
}

/**
 * One page of service accounts in creation order (created_at, id), by keyset: the page token
 * carries the last row's position, signed together with the status filter.
 */
export async function listServiceAccounts(
  deps: Pick<AdminDeps, 'pool' | 'pageTokens'>,
  input: ListServiceAccountsInput,
): Promise<{ serviceAccounts: ServiceAccount[]; nextPageToken: string }> {
  const { limit, status } = checkStatusListRequest(input, STATUSES);
  const tokenFilter = [status];
  const cursor = await readTimeIdCursor(
    deps.pageTokens,
    'service_accounts',
    tokenFilter,
    input.pageToken,
  );
  const after = cursor && { createdAt: cursor.time, id: cursor.id };
  const rows = await findServiceAccountsPage(deps.pool, status, after, limit + 1);
  const { page, nextPageToken } = await keysetPage(
    deps.pageTokens,
    'service_accounts',
    tokenFilter,
    rows,
    limit,
    (last) => [last.cursor.createdAt, last.cursor.id],
  );
  return { serviceAccounts: page.map((e) => e.account), nextPageToken };
}
