import { isUuid, isViolation } from '../auth/normalize.ts';
import { type AuditEvent, isAuditActionName } from '../domain/AuditEvent.ts';
import { type FieldViolation, invalidArgument } from '../errors/AppError.ts';
import { invalidPageToken, keysetPage } from '../paging/createPageTokens.ts';
import { pageSize } from '../paging/pageSize.ts';
import { findAuditEventsPage } from '../storage/audit.ts';
import type { AdminDeps } from './AdminDeps.ts';

export interface ListAuditEventsInput {
  pageSize: number;
  pageToken: string;
  /** Events whose actor or subject is this user; empty matches all. */
  userId: string;
  action: string;
  /** Inclusive. */
  since: Date | undefined;
  /** Exclusive. */
  until: Date | undefined;
  /** Events about this organisation (audit_events.organization_id); empty matches all. */
  organizationId: string;
}

/** One page of audit events, newest first, by keyset on id (the token holds the last id). */
export async function listAuditEvents(
  deps: Pick<AdminDeps, 'pool' | 'pageTokens'>,
  input: ListAuditEventsInput,
): Promise<{ events: AuditEvent[]; nextPageToken: string }> {
  const violations: FieldViolation[] = [];
  const limit = pageSize(input.pageSize);
  if (isViolation(limit)) violations.push(limit);
  const userId = input.userId.trim().toLowerCase();
  if (userId !== '' && !isUuid(userId)) {
    violations.push({ field: 'user_id', description: 'must be a user id (UUID)' });
  }
  const organizationId = input.organizationId.trim().toLowerCase();
  if (organizationId !== '' && !isUuid(organizationId)) {
    violations.push({
      field: 'organization_id',
      description: 'must be an organization id (UUID)',
      reason: 'INVALID_FORMAT',
    });
  }
  const action = input.action.trim();
  if (action !== '' && !isAuditActionName(action)) {
    violations.push({
      field: 'action',
      description:
        'not an audit action; use a name of the AuditAction enum in lower case without its prefix, e.g. "login" or "user_update"',
    });
  }
  const validTime = (d: Date | undefined) => d === undefined || Number.isFinite(d.getTime());
  if (!validTime(input.since)) violations.push({ field: 'since', description: 'invalid time' });
  if (!validTime(input.until)) violations.push({ field: 'until', description: 'invalid time' });
  if (input.since && input.until && !(input.since < input.until)) {
    violations.push({ field: 'since', description: 'must be before until' });
  }
  if (violations.length > 0 || isViolation(limit)) throw invalidArgument(violations);

  const filter = {
    userId: userId === '' ? null : userId,
    action: action !== '' && isAuditActionName(action) ? action : null,
    since: input.since ?? null,
    until: input.until ?? null,
    organizationId: organizationId === '' ? null : organizationId,
  };
  const tokenFilter = [
    filter.userId,
    filter.action,
    filter.since?.toISOString() ?? null,
    filter.until?.toISOString() ?? null,
  ];
  // Joins the signed filter only when set, so tokens issued before the filter existed stay valid.
  if (filter.organizationId !== null) tokenFilter.push(filter.organizationId);
  let beforeId: number | null = null;
  if (input.pageToken !== '') {
    const cursor = await deps.pageTokens.read('audit_events', tokenFilter, input.pageToken);
    if (typeof cursor !== 'number' || !Number.isSafeInteger(cursor) || cursor < 1) {
      throw invalidPageToken();
    }
    beforeId = cursor;
  }
  const rows = await findAuditEventsPage(deps.pool, filter, beforeId, limit + 1);
  const { page, nextPageToken } = await keysetPage(
    deps.pageTokens,
    'audit_events',
    tokenFilter,
    rows,
    limit,
    (last) => last.id,
  );
  return { events: page, nextPageToken };
}
