import { z } from 'zod';
import type { ApiKey, ApiKeyOwner, ApiKeyState } from '../domain/ApiKey.ts';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

/**
 * The api_keys and api_key_secrets tables: keys owned by a user or a service account, and their
 * secrets (only SHA-256 hashes). The owner's status and roles are read here by join, so the hot
 * path learns everything about a presented key in one query.
 */
const apiKeyRow = z.object({
  id: z.string(),
  owner_user_id: z.string().nullable(),
  owner_service_account_id: z.string().nullable(),
  display_name: z.string(),
  roles: z.array(z.string()),
  display_prefix: z.string().nullable(),
  created_at: z.date(),
  expires_at: z.date().nullable(),
  revoked_at: z.date().nullable(),
  last_used_at: z.date().nullable(),
});
type ApiKeyRow = z.infer<typeof apiKeyRow>;

// The display prefix is that of the key's newest secret (a rotation adds one).
const API_KEY_COLUMNS = sql.fragment`
  k.id, k.owner_user_id, k.owner_service_account_id, k.display_name, k.roles,
  (SELECT s.display_prefix FROM api_key_secrets s WHERE s.api_key_id = k.id
   ORDER BY s.created_at DESC, s.id DESC LIMIT 1) AS display_prefix,
  k.created_at, k.expires_at, k.revoked_at, k.last_used_at`;

function toOwner(userId: string | null, serviceAccountId: string | null): ApiKeyOwner {
  if (userId !== null) return { kind: 'user', id: userId };
  if (serviceAccountId !== null) return { kind: 'service_account', id: serviceAccountId };
  throw new Error('api key row without an owner'); // the table's CHECK makes this impossible
}

function toApiKey(r: ApiKeyRow): ApiKey {
  return {
    id: r.id,
    owner: toOwner(r.owner_user_id, r.owner_service_account_id),
    displayName: r.display_name,
    roles: r.roles,
    displayPrefix: r.display_prefix ?? '',
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
  };
}

function ownerCondition(owner: ApiKeyOwner) {
  return owner.kind === 'user'
    ? sql.fragment`k.owner_user_id = ${owner.id}`
    : sql.fragment`k.owner_service_account_id = ${owner.id}`;
}

const ownerRow = z.object({
  status: z.enum(['active', 'disabled', 'deleted']),
  roles: z.array(z.string()),
});

/**
 * The owner's status and roles as stored now, or null when there is no such owner; `forUpdate`
 * locks the owner's row so a role change cannot slip between a check and the insert it guards.
 */
export async function findApiKeyOwnerState(
  db: Db,
  owner: ApiKeyOwner,
  options: { forUpdate?: boolean } = {},
): Promise<z.infer<typeof ownerRow> | null> {
  const table =
    owner.kind === 'user' ? sql.identifier(['users']) : sql.identifier(['service_accounts']);
  return db.maybeOne(sql.type(ownerRow)`
    SELECT status, roles FROM ${table} WHERE id = ${owner.id}
    ${options.forUpdate ? sql.fragment`FOR UPDATE` : sql.fragment``}`);
}

/** A key to insert; its first secret is inserted by `insertApiKeySecret`. */
export interface NewApiKey {
  owner: ApiKeyOwner;
  displayName: string;
  roles: readonly string[];
  expiresAt: Date | null;
}

/** Inserts a key row (no secret yet). */
export async function insertApiKey(db: Db, key: NewApiKey): Promise<ApiKey> {
  const userId = key.owner.kind === 'user' ? key.owner.id : null;
  const serviceAccountId = key.owner.kind === 'service_account' ? key.owner.id : null;
  const row = await db.one(sql.type(apiKeyRow)`
    WITH k AS (
      INSERT INTO api_keys (owner_user_id, owner_service_account_id, display_name, roles,
                            expires_at)
      VALUES (${userId}, ${serviceAccountId}, ${key.displayName},
              ${sql.array([...key.roles], 'text')},
              ${key.expiresAt === null ? null : sql.timestamp(key.expiresAt)})
      RETURNING *)
    SELECT ${API_KEY_COLUMNS} FROM k`);
  return toApiKey(row);
}

/** Stores a secret of key `apiKeyId` (its hash and display prefix only). */
export async function insertApiKeySecret(
  db: Db,
  secret: { apiKeyId: string; secretHash: Buffer; displayPrefix: string; expiresAt?: Date | null },
): Promise<void> {
  await db.query(sql.typeAlias('void')`
    INSERT INTO api_key_secrets (api_key_id, secret_hash, display_prefix, expires_at)
    VALUES (${secret.apiKeyId}, ${sql.binary(secret.secretHash)}, ${secret.displayPrefix},
            ${secret.expiresAt ? sql.timestamp(secret.expiresAt) : null})`);
}

/** A key imported with an existing secret (ImportApiKeys): its own history, its secret's hash. */
export interface ImportedApiKey extends NewApiKey {
  secretHash: Buffer;
  displayPrefix: string;
  /** null: the time of the import. */
  createdAt: Date | null;
  /** Imported revoked (a disabled legacy key): revoked at the time of the import. */
  revoked: boolean;
}

const idStoredRow = z.object({ id: z.string(), stored: z.boolean() });

/**
 * Inserts an imported key and its secret, unless a key has that secret already: then nothing
 * is written and the answer is null. A concurrent import of the same secret is settled by the
 * secret's unique index (ON CONFLICT), and the key row it would have orphaned is removed, so
 * the caller's transaction survives either way.
 */
export async function insertImportedApiKey(db: Db, key: ImportedApiKey): Promise<string | null> {
  const userId = key.owner.kind === 'user' ? key.owner.id : null;
  const serviceAccountId = key.owner.kind === 'service_account' ? key.owner.id : null;
  const hash = sql.binary(key.secretHash);
  const row = await db.maybeOne(sql.type(idStoredRow)`
    WITH k AS (
      INSERT INTO api_keys (owner_user_id, owner_service_account_id, display_name, roles,
                            created_at, expires_at, revoked_at)
      SELECT ${userId}::uuid, ${serviceAccountId}::uuid, ${key.displayName},
             ${sql.array([...key.roles], 'text')},
             ${key.createdAt === null ? sql.fragment`now()` : sql.timestamp(key.createdAt)},
             ${key.expiresAt === null ? sql.fragment`NULL::timestamptz` : sql.timestamp(key.expiresAt)},
             ${key.revoked ? sql.fragment`now()` : sql.fragment`NULL::timestamptz`}
      WHERE NOT EXISTS (SELECT 1 FROM api_key_secrets WHERE secret_hash = ${hash})
      RETURNING id, created_at),
    s AS (
      INSERT INTO api_key_secrets (api_key_id, secret_hash, display_prefix, created_at)
      SELECT id, ${hash}, ${key.displayPrefix}, created_at FROM k
      ON CONFLICT (secret_hash) DO NOTHING
      RETURNING api_key_id)
    SELECT k.id, EXISTS (SELECT 1 FROM s) AS stored FROM k`);
  if (row === null) return null;
  if (row.stored) return row.id;
  await db.query(sql.typeAlias('void')`DELETE FROM api_keys WHERE id = ${row.id}`);
  return null;
}

const takenRow = z.object({ taken: z.boolean() });

/** Whether some key has a secret hashing to `secretHash` (any key, live or not). */
export async function isApiKeySecretTaken(db: Db, secretHash: Buffer): Promise<boolean> {
  return db.oneFirst(sql.type(takenRow)`
    SELECT EXISTS (SELECT 1 FROM api_key_secrets WHERE secret_hash = ${sql.binary(secretHash)})
      AS taken`);
}

/** The key with this id, or null. */
export async function findApiKeyById(db: Db, id: string): Promise<ApiKey | null> {
  const row = await db.maybeOne(sql.type(apiKeyRow)`
    SELECT ${API_KEY_COLUMNS} FROM api_keys k WHERE k.id = ${id}`);
  return row && toApiKey(row);
}

/** Position after the last key of a page: created_at with microseconds (UTC), then id. */
export interface ApiKeyCursor {
  createdAt: string;
  id: string;
}

/** A key of a list page and the position after it (for the next page's token). */
export interface ApiKeyPageEntry {
  apiKey: ApiKey;
  cursor: ApiKeyCursor;
}

const apiKeyPageRow = apiKeyRow.extend({ cursor_created_at: z.string() });

/** One page of `owner`'s keys (revoked ones included) in (created_at, id) order after `after`. */
export async function findApiKeysPageByOwner(
  db: Db,
  owner: ApiKeyOwner,
  after: ApiKeyCursor | null,
  limit: number,
): Promise<ApiKeyPageEntry[]> {
  const conditions = [ownerCondition(owner)];
  if (after !== null) {
    conditions.push(sql.fragment`(k.created_at, k.id) >
      ((${after.createdAt}::timestamp AT TIME ZONE 'UTC'), ${after.id}::uuid)`);
  }
  const rows = await db.any(sql.type(apiKeyPageRow)`
    SELECT ${API_KEY_COLUMNS},
           to_char(k.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS cursor_created_at
    FROM api_keys k
    WHERE ${sql.join(conditions, sql.fragment` AND `)}
    ORDER BY k.created_at, k.id
    LIMIT ${limit}`);
  return rows.map((r) => ({
    apiKey: toApiKey(r),
    cursor: { createdAt: r.cursor_created_at, id: r.id },
  }));
}

/**
 * Revokes key `id` (of `owner`, when given) if it is not revoked yet; returns the key as it is
 * afterwards, or null when there is no such key (of that owner). Revoking twice keeps the first
 * revocation time. The row's trigger announces the change (k:<id>).
 */
export async function revokeApiKey(
  db: Db,
  id: string,
  owner: ApiKeyOwner | null = null,
): Promise<ApiKey | null> {
  const row = await db.maybeOne(sql.type(apiKeyRow)`
    WITH k AS (
      UPDATE api_keys k SET revoked_at = COALESCE(k.revoked_at, now())
      WHERE k.id = ${id} ${owner === null ? sql.fragment`` : sql.fragment`AND ${ownerCondition(owner)}`}
      RETURNING *)
    SELECT ${API_KEY_COLUMNS} FROM k`);
  return row && toApiKey(row);
}

/** Revokes every live key of `owner` (e.g. when it is deleted); returns how many. */
export async function revokeApiKeysOfOwner(db: Db, owner: ApiKeyOwner): Promise<number> {
  const result = await db.query(sql.typeAlias('void')`
    UPDATE api_keys k SET revoked_at = now()
    WHERE ${ownerCondition(owner)} AND k.revoked_at IS NULL`);
  return result.rowCount;
}

const apiKeyStateRow = z.object({
  id: z.string(),
  owner_user_id: z.string().nullable(),
  owner_service_account_id: z.string().nullable(),
  roles: z.array(z.string()),
  expires_at: z.date().nullable(),
  revoked_at: z.date().nullable(),
  last_used_at: z.date().nullable(),
  secret_expires_at: z.date().nullable(),
  owner_roles: z.array(z.string()).nullable(),
  owner_status: z.enum(['active', 'disabled', 'deleted']).nullable(),
});

function toApiKeyState(r: z.infer<typeof apiKeyStateRow>): ApiKeyState {
  return {
    apiKeyId: r.id,
    owner: toOwner(r.owner_user_id, r.owner_service_account_id),
    keyRoles: r.roles,
    ownerRoles: r.owner_roles ?? [],
    // An owner row that vanished (a hard delete cascades, but be safe) counts as deleted.
    ownerStatus: r.owner_status ?? 'deleted',
    keyExpiresAt: r.expires_at,
    secretExpiresAt: r.secret_expires_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
  };
}

const KEY_STATE_FROM = sql.fragment`
  FROM api_keys k
  LEFT JOIN users u ON u.id = k.owner_user_id
  LEFT JOIN service_accounts sa ON sa.id = k.owner_service_account_id`;

const KEY_STATE_COLUMNS = sql.fragment`
  k.id, k.owner_user_id, k.owner_service_account_id, k.roles, k.expires_at, k.revoked_at,
  k.last_used_at, COALESCE(u.roles, sa.roles) AS owner_roles,
  COALESCE(u.status, sa.status) AS owner_status`;

/**
 * The state of the key whose secret hashes to `secretHash`, with the secret's own expiry and
 * the owner's status and roles now; null when no secret has this hash.
 */
export async function findApiKeyStateBySecretHash(
  db: Db,
  secretHash: Buffer,
): Promise<ApiKeyState | null> {
  const row = await db.maybeOne(sql.type(apiKeyStateRow)`
    SELECT ${KEY_STATE_COLUMNS}, s.expires_at AS secret_expires_at
    ${KEY_STATE_FROM}
    JOIN api_key_secrets s ON s.api_key_id = k.id
    WHERE s.secret_hash = ${sql.binary(secretHash)}`);
  return row && toApiKeyState(row);
}

/**
 * The state of key `id` (for access tokens minted from it: they carry the key id, not a
 * secret, so no secret expiry applies); null when there is no such key.
 */
export async function findApiKeyStateById(db: Db, id: string): Promise<ApiKeyState | null> {
  const row = await db.maybeOne(sql.type(apiKeyStateRow)`
    SELECT ${KEY_STATE_COLUMNS}, NULL::timestamptz AS secret_expires_at
    ${KEY_STATE_FROM}
    WHERE k.id = ${id}`);
  return row && toApiKeyState(row);
}

/**
 * Records that key `id` was used, unless that was recorded less than a minute ago (so keys in
 * constant use cost one write a minute, whichever instance they hit).
 */
export async function touchApiKeyLastUsed(db: Db, id: string): Promise<void> {
  await db.query(sql.typeAlias('void')`
    UPDATE api_keys SET last_used_at = now()
    WHERE id = ${id} AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`);
}

const countRow = z.object({ count: z.number() });

/** How many live keys (neither revoked nor expired) `owner` holds now. */
export async function countLiveApiKeysOfOwner(db: Db, owner: ApiKeyOwner): Promise<number> {
  return db.oneFirst(sql.type(countRow)`
    SELECT count(*)::int AS count FROM api_keys k
    WHERE ${ownerCondition(owner)} AND k.revoked_at IS NULL
      AND (k.expires_at IS NULL OR k.expires_at > now())`);
}

/**
 * Key `id` of `owner`, row-locked until the end of the transaction (so a rotation and a
 * revocation of one key queue up), or null when `owner` has no such key.
 */
export async function lockApiKeyOfOwner(
  db: Db,
  id: string,
  owner: ApiKeyOwner,
): Promise<ApiKey | null> {
  const row = await db.maybeOne(sql.type(apiKeyRow)`
    SELECT ${API_KEY_COLUMNS} FROM api_keys k
    WHERE k.id = ${id} AND ${ownerCondition(owner)}
    FOR UPDATE OF k`);
  return row && toApiKey(row);
}

/**
 * Rotation: drops the secrets of key `apiKeyId` that are already dead and makes every other
 * one stop `overlapMs` from now (one that would stop sooner keeps its sooner end). Each changed
 * row's trigger announces the key (k:<id>), so caches re-read the secrets' new ends at once.
 */
export async function expireApiKeySecrets(
  db: Db,
  apiKeyId: string,
  overlapMs: number,
): Promise<void> {
  await db.query(sql.typeAlias('void')`
    DELETE FROM api_key_secrets WHERE api_key_id = ${apiKeyId} AND expires_at <= now()`);
  await db.query(sql.typeAlias('void')`
    UPDATE api_key_secrets
    SET expires_at = now() + ${overlapMs} * interval '1 millisecond'
    WHERE api_key_id = ${apiKeyId}
      AND (expires_at IS NULL OR expires_at > now() + ${overlapMs} * interval '1 millisecond')`);
}

/** Sets key `id`'s expiry (null: none); its trigger announces the change (k:<id>). */
export async function updateApiKeyExpiry(
  db: Db,
  id: string,
  expiresAt: Date | null,
): Promise<void> {
  await db.query(sql.typeAlias('void')`
    UPDATE api_keys SET expires_at = ${expiresAt === null ? null : sql.timestamp(expiresAt)}
    WHERE id = ${id}`);
}
