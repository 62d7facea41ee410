import { isViolation } from '../auth/normalize.ts';
import { type FieldViolation, invalidArgument } from '../errors/AppError.ts';
import { pageSize } from './pageSize.ts';

/**
 * The page size and status filter of a list RPC that filters by lifecycle status
 * (ListServiceAccounts, ListOrganizations), or INVALID_ARGUMENT naming both fields' faults.
 * `status` null is "every status but deleted".
 */
export function checkStatusListRequest<S extends string>(
  input: { pageSize: number; status: string | null },
  statuses: readonly S[],
): { limit: number; status: S | null } {
  const violations: FieldViolation[] = [];
  const limit = pageSize(input.pageSize);
  if (isViolation(limit)) violations.push(limit);
  if (input.status !== null && !(statuses as readonly string[]).includes(input.status)) {
    violations.push({ field: 'status', description: 'unknown status', reason: 'INVALID_VALUE' });
  }
  if (violations.length > 0 || isViolation(limit)) throw invalidArgument(violations);
  return { limit, status: input.status as S | null };
}
