import type { ServiceAccount, ServiceAccountStatus } from '../domain/ServiceAccount.ts';
import { checkStatusListRequest } from '../paging/checkListRequest.ts';
import { createdAtPage } from '../paging/createPageTokens.ts';
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
  const { page, nextPageToken } = await createdAtPage(
    deps.pageTokens,
    'service_accounts',
    tokenFilter,
    input.pageToken,
    limit,
    (after, rows) => findServiceAccountsPage(deps.pool, status, after, rows),
  );
  return { serviceAccounts: page.map((e) => e.account), nextPageToken };
}
