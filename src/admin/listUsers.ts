import { isViolation, normalizeIdentifier } from '../auth/normalize.ts';
import { type ManagedUser, toManagedUser, type UserStatus } from '../domain/User.ts';
import { type FieldViolation, invalidArgument } from '../errors/AppError.ts';
import { createdAtPage } from '../paging/createPageTokens.ts';
import { pageSize } from '../paging/pageSize.ts';
import { findUsersPage, type UserListFilter } from '../storage/users.ts';
import type { AdminDeps } from './AdminDeps.ts';
import { isRoleName } from './normalizeRoles.ts';
import { checkId } from './requireUserId.ts';

const STATUSES: readonly string[] = ['active', 'disabled', 'deleted'];
const CONTROL = /[\p{Cc}\p{Cf}]/u;

export interface ListUsersInput {
  pageSize: number;
  pageToken: string;
  /** Case-insensitive prefix of email, username or display name; empty matches all. */
  query: string;
  role: string;
  /** 'active' | 'disabled' | 'deleted', or null for every status except deleted. */
  status: string | null;
  /** Only members of this organisation; empty matches all. */
  organizationId: string;
}

function parseFilter(input: ListUsersInput): { filter: UserListFilter; limit: number } {
  const violations: FieldViolation[] = [];
  const limit = pageSize(input.pageSize);
  if (isViolation(limit)) violations.push(limit);
  const query = normalizeIdentifier(input.query);
  if (query.length > 320 || CONTROL.test(query)) {
    violations.push({
      field: 'query',
      description: 'at most 320 characters, no control characters',
      reason: 'INVALID_FORMAT',
    });
  }
  if (input.role !== '' && !isRoleName(input.role)) {
    violations.push({
      field: 'role',
      description: 'not a valid role name',
      reason: 'INVALID_ROLE',
    });
  }
  if (input.status !== null && !STATUSES.includes(input.status)) {
    violations.push({ field: 'status', description: 'unknown status', reason: 'INVALID_VALUE' });
  }
  const organizationId =
    input.organizationId.trim() === ''
      ? null
      : checkId(input.organizationId, 'organization_id', 'organization');
  if (isViolation(organizationId)) violations.push(organizationId);
  if (violations.length > 0 || isViolation(limit) || isViolation(organizationId)) {
    throw invalidArgument(violations);
  }
  return {
    filter: {
      status: input.status as UserStatus | null,
      role: input.role === '' ? null : input.role,
      prefix: query === '' ? null : query,
      organizationId,
    },
    limit,
  };
}

/**
 * One page of users in creation order (created_at, id), by keyset: the page token carries the
 * last row's position, signed together with the filters it belongs to.
 */
export async function listUsers(
  deps: Pick<AdminDeps, 'pool' | 'pageTokens' | 'hasher'>,
  input: ListUsersInput,
): Promise<{ users: ManagedUser[]; nextPageToken: string }> {
  const { filter, limit } = parseFilter(input);
  // The organisation joins the signed filter only when set, so tokens issued before the filter
  // existed stay valid.
  const tokenFilter = [filter.status, filter.role, filter.prefix];
  if (filter.organizationId !== null) tokenFilter.push(filter.organizationId);
  const { page, nextPageToken } = await createdAtPage(
    deps.pageTokens,
    'users',
    tokenFilter,
    input.pageToken,
    limit,
    (after, rows) => findUsersPage(deps.pool, filter, after, rows),
  );
  return { users: page.map((e) => toManagedUser(e.account, deps.hasher)), nextPageToken };
}
