import { UniqueIntegrityConstraintViolationError } from 'slonik';
import { z } from 'zod';
import type {
  NewServiceAccount,
  ServiceAccount,
  ServiceAccountStatus,
} from '../domain/ServiceAccount.ts';
import { AppError } from '../errors/AppError.ts';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

/** The service_accounts table. Its keys live in api_keys (src/storage/apiKeys.ts). */
const serviceAccountRow = z.object({
  id: z.string(),
  name: z.string(),
  display_name: z.string(),
  description: z.string(),
  roles: z.array(z.string()),
  status: z.enum(['active', 'disabled', 'deleted']),
  created_at: z.date(),
  updated_at: z.date(),
});
type ServiceAccountRow = z.infer<typeof serviceAccountRow>;

const COLUMNS = sql.fragment`
  id, name, display_name, description, roles, status, created_at, updated_at`;

function toServiceAccount(r: ServiceAccountRow): ServiceAccount {
  return {
    id: r.id,
    name: r.name,
    displayName: r.display_name,
    description: r.description,
    roles: r.roles,
    status: r.status,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** Inserts an active service account; the partial unique index decides NAME_TAKEN. */
export async function insertServiceAccount(
  db: Db,
  account: NewServiceAccount,
): Promise<ServiceAccount> {
  try {
    return toServiceAccount(
      await db.one(sql.type(serviceAccountRow)`
        INSERT INTO service_accounts (name, display_name, description, roles)
        VALUES (${account.name}, ${account.displayName}, ${account.description},
                ${sql.array([...account.roles], 'text')})
        RETURNING ${COLUMNS}`),
    );
  } catch (error) {
    if (
      error instanceof UniqueIntegrityConstraintViolationError &&
      error.constraint === 'service_accounts_name_key'
    ) {
      throw new AppError(
        'SERVICE_ACCOUNT_NAME_TAKEN',
        'a service account with this name already exists',
      );
    }
    throw error;
  }
}

/**
 * The live (not deleted) service account with this id; SERVICE_ACCOUNT_NOT_FOUND otherwise.
 * `forUpdate` locks its row until the transaction ends.
 */
export async function getServiceAccountById(
  db: Db,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<ServiceAccount> {
  const row = await db.maybeOne(sql.type(serviceAccountRow)`
    SELECT ${COLUMNS} FROM service_accounts
    WHERE id = ${id} AND status <> 'deleted'
    ${options.forUpdate ? sql.fragment`FOR UPDATE` : sql.fragment``}`);
  if (row === null) throw new AppError('SERVICE_ACCOUNT_NOT_FOUND', 'no such service account');
  return toServiceAccount(row);
}

const idRow = z.object({ id: z.string() });

/**
 * The id of the live (not deleted) service account named `name`, or null. Names are unique
 * among live accounts (service_accounts_name_key), so there is at most one.
 */
export async function findServiceAccountIdByName(db: Db, name: string): Promise<string | null> {
  return db.maybeOneFirst(sql.type(idRow)`
    SELECT id FROM service_accounts WHERE name = ${name} AND status <> 'deleted'`);
}

/** Position after the last row of a page: created_at with microseconds (UTC), then id. */
export interface ServiceAccountCursor {
  createdAt: string;
  id: string;
}

/** A service account of a list page and the position after it. */
export interface ServiceAccountPageEntry {
  account: ServiceAccount;
  cursor: ServiceAccountCursor;
}

const pageRow = serviceAccountRow.extend({ cursor_created_at: z.string() });

/**
 * One page of service accounts in (created_at, id) order after `after`, of one status (null:
 * every status except deleted); a keyset scan on service_accounts_created_at_id_idx.
 */
export async function findServiceAccountsPage(
  db: Db,
  status: ServiceAccountStatus | null,
  after: ServiceAccountCursor | null,
  limit: number,
): Promise<ServiceAccountPageEntry[]> {
  const conditions = [
    status === null ? sql.fragment`status <> 'deleted'` : sql.fragment`status = ${status}`,
  ];
  if (after !== null) {
    conditions.push(sql.fragment`(created_at, id) >
      ((${after.createdAt}::timestamp AT TIME ZONE 'UTC'), ${after.id}::uuid)`);
  }
  const rows = await db.any(sql.type(pageRow)`
    SELECT ${COLUMNS},
           to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS cursor_created_at
    FROM service_accounts
    WHERE ${sql.join(conditions, sql.fragment` AND `)}
    ORDER BY created_at, id
    LIMIT ${limit}`);
  return rows.map((r) => ({
    account: toServiceAccount(r),
    cursor: { createdAt: r.cursor_created_at, id: r.id },
  }));
}

/** Changes of UpdateServiceAccount; a present key is written. */
export interface ServiceAccountChanges {
  displayName?: string;
  description?: string;
  roles?: readonly string[];
}

/** Writes the given fields (a roles change fires the row's sa:<id> notification). */
export async function updateServiceAccountProfile(
  db: Db,
  id: string,
  changes: ServiceAccountChanges,
): Promise<ServiceAccount> {
  const sets = [sql.fragment`updated_at = now()`];
  if (changes.displayName !== undefined) {
    sets.push(sql.fragment`display_name = ${changes.displayName}`);
  }
  if (changes.description !== undefined) {
    sets.push(sql.fragment`description = ${changes.description}`);
  }
  if (changes.roles !== undefined) {
    sets.push(sql.fragment`roles = ${sql.array([...changes.roles], 'text')}`);
  }
  return toServiceAccount(
    await db.one(sql.type(serviceAccountRow)`
      UPDATE service_accounts SET ${sql.join(sets, sql.fragment`, `)}
      WHERE id = ${id}
      RETURNING ${COLUMNS}`),
  );
}

/**
 * Sets the lifecycle status (firing the row's sa:<id> notification). Deleting is a soft delete:
 * the row stays for the audit trail (deleted_at set) and the partial unique index frees its name.
 */
export async function updateServiceAccountStatus(
  db: Db,
  id: string,
  status: ServiceAccountStatus,
): Promise<ServiceAccount> {
  return toServiceAccount(
    await db.one(sql.type(serviceAccountRow)`
      UPDATE service_accounts
      SET status = ${status}, updated_at = now(),
          deleted_at = ${status === 'deleted' ? sql.fragment`now()` : sql.fragment`NULL`}
      WHERE id = ${id}
      RETURNING ${COLUMNS}`),
  );
}
