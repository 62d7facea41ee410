import { UniqueIntegrityConstraintViolationError } from 'slonik';
import { z } from 'zod';
import type { NewUser, User, UserAccount, UserStatus } from '../domain/User.ts';
import { AppError } from '../errors/AppError.ts';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

/**
 * The users table. Rows become domain objects here, at the storage edge: `UserAccount` where
 * credential or lockout state is read, `User` (its `user`) everywhere else.
 */
const userRow = z.object({
  id: z.string(),
  email: z.string(),
  email_normalized: z.string(),
  username: z.string().nullable(),
  display_name: z.string(),
  password_hash: z.string().nullable(),
  roles: z.array(z.string()),
  status: z.enum(['active', 'disabled', 'deleted']),
  email_verified: z.boolean(),
  failed_login_count: z.number(),
  lockout_count: z.number(),
  locked_until: z.date().nullable(),
  created_at: z.date(),
  updated_at: z.date(),
  last_login_at: z.date().nullable(),
});
type UserRow = z.infer<typeof userRow>;

const USER_COLUMNS = sql.fragment`
  id, email, email_normalized, username, display_name, password_hash, roles, status,
  email_verified, failed_login_count, lockout_count, locked_until, created_at, updated_at,
  last_login_at`;

function toUser(r: UserRow): User {
  return {
    id: r.id,
    email: r.email,
    emailNormalized: r.email_normalized,
    username: r.username,
    displayName: r.display_name,
    roles: r.roles,
    status: r.status,
    emailVerified: r.email_verified,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    lastLoginAt: r.last_login_at,
  };
}

function toUserAccount(r: UserRow): UserAccount {
  return {
    user: toUser(r),
    passwordHash: r.password_hash,
    failedLoginCount: r.failed_login_count,
    lockoutCount: r.lockout_count,
    lockedUntil: r.locked_until,
  };
}

const maybeAccount = (r: UserRow | null) => (r === null ? null : toUserAccount(r));

/** The INSERT of a new account, written once for every way an account is made. */
function insertUserStatement(u: NewUser) {
  return sql.fragment`
    INSERT INTO users (email, email_normalized, username, username_normalized, display_name,
                       password_hash, roles, email_verified, external_id, created_at, updated_at)
    VALUES (${u.email.display}, ${u.email.normalized}, ${u.username?.display ?? null},
            ${u.username?.normalized ?? null}, ${u.displayName}, ${u.passwordHash},
            ${sql.array([...u.roles], 'text')}, ${u.emailVerified}, ${u.externalId ?? null},
            ${u.createdAt ? sql.timestamp(u.createdAt) : sql.fragment`now()`}, now())`;
}

/** Maps a unique violation on users to EMAIL_TAKEN / USERNAME_TAKEN; rethrows anything else. */
function rethrowUniqueViolation(error: unknown): never {
  if (error instanceof UniqueIntegrityConstraintViolationError) {
    if (error.constraint === 'users_email_normalized_key') {
      throw new AppError('EMAIL_TAKEN', 'an account with this email address already exists');
    }
    if (error.constraint === 'users_username_normalized_key') {
      throw new AppError('USERNAME_TAKEN', 'this username is taken');
    }
  }
  throw error;
}

/** Inserts a user; the unique indexes (not a prior check) decide EMAIL_TAKEN / USERNAME_TAKEN. */
export async function insertUser(db: Db, user: NewUser): Promise<UserAccount> {
  try {
    return toUserAccount(
      await db.one(sql.type(userRow)`${insertUserStatement(user)} RETURNING ${USER_COLUMNS}`),
    );
  } catch (error) {
    rethrowUniqueViolation(error);
  }
}

/** The live (not deleted) user with this normalised email or username, or null. */
export async function findUserByIdentifier(
  db: Db,
  normalized: string,
): Promise<UserAccount | null> {
  const column = normalized.includes('@')
    ? sql.identifier(['email_normalized'])
    : sql.identifier(['username_normalized']);
  return maybeAccount(
    await db.maybeOne(sql.type(userRow)`
      SELECT ${USER_COLUMNS} FROM users
      WHERE ${column} = ${normalized} AND status <> 'deleted'`),
  );
}

export interface FindUserOptions {
  forUpdate?: boolean;
  includeDeleted?: boolean;
}

/** The user with this id (deleted users included only when asked), or null. */
export async function findUserById(
  db: Db,
  id: string,
  options: FindUserOptions = {},
): Promise<UserAccount | null> {
  return maybeAccount(
    await db.maybeOne(sql.type(userRow)`
      SELECT ${USER_COLUMNS} FROM users
      WHERE id = ${id} ${options.includeDeleted ? sql.fragment`` : sql.fragment`AND status <> 'deleted'`}
      ${options.forUpdate ? sql.fragment`FOR UPDATE` : sql.fragment``}`),
  );
}

/** Records a successful login: clears failure and lockout state, optionally stores an upgraded hash. */
export async function updateUserLoginSucceeded(
  db: Db,
  id: string,
  upgradedHash: string | null,
): Promise<User> {
  const row = await db.one(sql.type(userRow)`
    UPDATE users
    SET last_login_at = now(), failed_login_count = 0, locked_until = NULL, lockout_count = 0,
        password_hash = COALESCE(${upgradedHash}, password_hash)
    WHERE id = ${id}
    RETURNING ${USER_COLUMNS}`);
  return toUser(row);
}

const allowedRow = z.object({ allowed: z.boolean() });

/**
 * Counts a password attempt BEFORE it is checked, in one atomic UPDATE, so parallel guesses
 * cannot slip past the threshold: the attempt may be checked only if the account is not locked
 * and at most `threshold` attempts are outstanding since the last success. An expired lock
 * starts a fresh count.
 */
export async function beginPasswordAttempt(
  db: Db,
  id: string,
  threshold: number,
): Promise<boolean> {
  const row = await db.one(sql.type(allowedRow)`
    UPDATE users
    SET failed_login_count = CASE WHEN locked_until <= now() THEN 1 ELSE failed_login_count + 1 END,
        locked_until = CASE WHEN locked_until <= now() THEN NULL ELSE locked_until END
    WHERE id = ${id}
    RETURNING (locked_until IS NULL AND failed_login_count <= ${threshold}) AS allowed`);
  return row.allowed;
}

const lockedUntilRow = z.object({ locked_until: z.date() });

/**
 * After a failed check: locks the account once `threshold` consecutive failures are reached, for
 * `baseSec * 2^(earlier lockouts)` capped at `maxSec`. Returns the lock's end if this call locked it.
 */
export async function lockUserIfThresholdReached(
  db: Db,
  id: string,
  policy: { threshold: number; baseSec: number; maxSec: number },
): Promise<Date | null> {
  const row = await db.maybeOne(sql.type(lockedUntilRow)`
    UPDATE users
    SET locked_until = now() + make_interval(secs => LEAST(${policy.baseSec}::float8 * power(2, LEAST(lockout_count, 30)), ${policy.maxSec})),
        lockout_count = lockout_count + 1
    WHERE id = ${id} AND failed_login_count >= ${policy.threshold} AND locked_until IS NULL
    RETURNING locked_until`);
  return row?.locked_until ?? null;
}

/**
 * Gives back the attempt beginPasswordAttempt counted, for a correct password that opened a
 * second-factor challenge: it neither counts as a failure nor clears earlier ones (only the
 * completed login does), so wrong codes keep adding up across challenges.
 */
export async function releasePasswordAttempt(db: Db, id: string): Promise<void> {
  await db.query(sql.typeAlias('void')`
    UPDATE users SET failed_login_count = GREATEST(failed_login_count - 1, 0) WHERE id = ${id}`);
}

/** Stores a password's hash under current parameters (the password itself was just checked). */
export async function updateUserPasswordHash(db: Db, id: string, hash: string): Promise<void> {
  await db.query(sql.typeAlias('void')`
    UPDATE users SET password_hash = ${hash} WHERE id = ${id}`);
}

/** Replaces the password hash and clears lockout state. */
export async function updateUserPassword(db: Db, id: string, passwordHash: string): Promise<User> {
  const row = await db.one(sql.type(userRow)`
    UPDATE users
    SET password_hash = ${passwordHash}, updated_at = now(), failed_login_count = 0, locked_until = NULL
    WHERE id = ${id}
    RETURNING ${USER_COLUMNS}`);
  return toUser(row);
}

// Two-int4 advisory key (a different lock tag than the migration lock's single bigint key):
// every change that can take the `admin` role away from an active user serialises on it.
const ADMIN_MEMBERSHIP_LOCK = [0x6761_7465, 1] as const;

/** Serialises changes that may remove an active admin, until the transaction ends. */
export async function lockAdminMembership(db: Db): Promise<void> {
  await db.query(sql.typeAlias('void')`
    SELECT pg_advisory_xact_lock(${ADMIN_MEMBERSHIP_LOCK[0]}, ${ADMIN_MEMBERSHIP_LOCK[1]})`);
}

const countRow = z.object({ count: z.number() });

/** Active users holding the `admin` role, other than `exceptUserId` (null: everyone). */
export async function countActiveAdmins(db: Db, exceptUserId: string | null): Promise<number> {
  return db.oneFirst(sql.type(countRow)`
    SELECT count(*)::int AS count FROM users
    WHERE status = 'active' AND roles @> ARRAY['admin']::text[]
      ${exceptUserId === null ? sql.fragment`` : sql.fragment`AND id <> ${exceptUserId}`}`);
}

/** What ListUsers filters on; `prefix` is already case-folded. */
export interface UserListFilter {
  /** null: every status except deleted. */
  status: UserStatus | null;
  role: string | null;
  prefix: string | null;
  /** Only members of this organisation. */
  organizationId: string | null;
}

/** Position after the last row of a page: created_at with microseconds (UTC), then id. */
export interface UserCursor {
  createdAt: string;
  id: string;
}

const userPageRow = userRow.extend({ cursor_created_at: z.string() });

/** A user of a list page and the position after it (for the next page's token). */
export interface UserPageEntry {
  account: UserAccount;
  cursor: UserCursor;
}

/** Escapes LIKE wildcards so user input only ever matches literally, as a prefix. */
function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * One page of users in (created_at, id) order after `after`: a keyset scan, so page 1000 costs
 * what page 1 costs. The prefix uses the text_pattern_ops indexes of 0001 (one per column).
 */
export async function findUsersPage(
  db: Db,
  filter: UserListFilter,
  after: UserCursor | null,
  limit: number,
): Promise<UserPageEntry[]> {
  const conditions = [
    filter.status === null
      ? sql.fragment`status <> 'deleted'`
      : sql.fragment`status = ${filter.status}`,
  ];
  if (filter.role !== null) {
    conditions.push(sql.fragment`roles @> ${sql.array([filter.role], 'text')}`);
  }
  if (filter.organizationId !== null) {
    conditions.push(sql.fragment`EXISTS (SELECT 1 FROM memberships m
      WHERE m.organization_id = ${filter.organizationId} AND m.user_id = users.id)`);
  }
  if (filter.prefix !== null) {
    const pattern = likePrefix(filter.prefix);
    conditions.push(sql.fragment`(email_normalized LIKE ${pattern}
      OR username_normalized LIKE ${pattern} OR lower(display_name) LIKE ${pattern})`);
  }
  if (after !== null) {
    conditions.push(sql.fragment`(created_at, id) >
      ((${after.createdAt}::timestamp AT TIME ZONE 'UTC'), ${after.id}::uuid)`);
  }
  const rows = await db.any(sql.type(userPageRow)`
    SELECT ${USER_COLUMNS},
           to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS cursor_created_at
    FROM users
    WHERE ${sql.join(conditions, sql.fragment` AND `)}
    ORDER BY created_at, id
    LIMIT ${limit}`);
  return rows.map((r) => ({
    account: toUserAccount(r),
    cursor: { createdAt: r.cursor_created_at, id: r.id },
  }));
}

/** Changes of UpdateUser; a present key is written (username null clears it). */
export interface UserChanges {
  email?: { display: string; normalized: string; verified: boolean };
  username?: { display: string; normalized: string } | null;
  displayName?: string;
  roles?: readonly string[];
  emailVerified?: boolean;
}

/** Writes the given profile fields; EMAIL_TAKEN / USERNAME_TAKEN come from the unique indexes. */
export async function updateUserProfile(
  db: Db,
  id: string,
  changes: UserChanges,
): Promise<UserAccount> {
  const sets = [sql.fragment`updated_at = now()`];
  if (changes.email !== undefined) {
    sets.push(
      sql.fragment`email = ${changes.email.display}`,
      sql.fragment`email_normalized = ${changes.email.normalized}`,
      sql.fragment`email_verified = ${changes.email.verified}`,
    );
  } else if (changes.emailVerified !== undefined) {
    sets.push(sql.fragment`email_verified = ${changes.emailVerified}`);
  }
  if (changes.username !== undefined) {
    sets.push(
      sql.fragment`username = ${changes.username?.display ?? null}`,
      sql.fragment`username_normalized = ${changes.username?.normalized ?? null}`,
    );
  }
  if (changes.displayName !== undefined) {
    sets.push(sql.fragment`display_name = ${changes.displayName}`);
  }
  if (changes.roles !== undefined) {
    sets.push(sql.fragment`roles = ${sql.array([...changes.roles], 'text')}`);
  }
  try {
    return toUserAccount(
      await db.one(sql.type(userRow)`
        UPDATE users SET ${sql.join(sets, sql.fragment`, `)}
        WHERE id = ${id}
        RETURNING ${USER_COLUMNS}`),
    );
  } catch (error) {
    rethrowUniqueViolation(error);
  }
}

/**
 * Sets the lifecycle status. Deleting is a soft delete: the row stays for the audit trail
 * (deleted_at set) and the partial unique indexes release its email and username.
 */
export async function updateUserStatus(
  db: Db,
  id: string,
  status: UserStatus,
): Promise<UserAccount> {
  return toUserAccount(
    await db.one(sql.type(userRow)`
      UPDATE users
      SET status = ${status}, updated_at = now(),
          deleted_at = ${status === 'deleted' ? sql.fragment`now()` : sql.fragment`NULL`}
      WHERE id = ${id}
      RETURNING ${USER_COLUMNS}`),
  );
}

/** Clears a login lockout and the failure counters. */
export async function updateUserUnlocked(db: Db, id: string): Promise<UserAccount> {
  return toUserAccount(
    await db.one(sql.type(userRow)`
      UPDATE users
      SET failed_login_count = 0, lockout_count = 0, locked_until = NULL, updated_at = now()
      WHERE id = ${id}
      RETURNING ${USER_COLUMNS}`),
  );
}

const idRow = z.object({ id: z.string() });

/**
 * Inserts an imported user unless its email or username belongs to a live account (including
 * one inserted earlier in this transaction): then returns null instead of failing the
 * transaction, so a batch needs no savepoint per row.
 */
export async function insertImportedUser(db: Db, user: NewUser): Promise<string | null> {
  return db.maybeOneFirst(sql.type(idRow)`
    ${insertUserStatement(user)}
    ON CONFLICT DO NOTHING
    RETURNING id`);
}

const emailRow = z.object({ email: z.boolean() });

/** Which identifier of a live account collides: 'email', 'username' or null. */
export async function findUserConflict(
  db: Db,
  emailNormalized: string,
  usernameNormalized: string | null,
): Promise<'email' | 'username' | null> {
  const taken = await db.maybeOneFirst(sql.type(emailRow)`
    SELECT bool_or(email_normalized = ${emailNormalized}) AS email FROM users
    WHERE status <> 'deleted'
      AND (email_normalized = ${emailNormalized} OR username_normalized = ${usernameNormalized})
    HAVING count(*) > 0`);
  return taken === null ? null : taken ? 'email' : 'username';
}

/** The live (not deleted) user with this id; USER_NOT_FOUND otherwise. */
export async function getUserById(
  db: Db,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<UserAccount> {
  const account = await findUserById(db, id, options);
  if (account === null) throw new AppError('USER_NOT_FOUND', 'no such user');
  return account;
}

/**
 * The active user a token would be sent to, row-locked until the end of the transaction, so
 * concurrent requests for one account queue up and the newest token is the only live one.
 */
export async function lockTokenRecipient(
  db: Db,
  by: { emailNormalized: string } | { userId: string },
): Promise<User | null> {
  const where =
    'userId' in by
      ? sql.fragment`id = ${by.userId}`
      : sql.fragment`email_normalized = ${by.emailNormalized}`;
  const row = await db.maybeOne(sql.type(userRow)`
    SELECT ${USER_COLUMNS} FROM users
    WHERE ${where} AND status = 'active'
    FOR UPDATE`);
  return row === null ? null : toUser(row);
}

/**
 * Marks the user's address verified, if it is still `emailNormalized` (a consumed token proved
 * control of that address, not of another one the account may have meanwhile).
 */
export async function markEmailVerified(
  db: Db,
  userId: string,
  emailNormalized: string,
): Promise<User | null> {
  const row = await db.maybeOne(sql.type(userRow)`
    UPDATE users
    SET email_verified = true,
        updated_at = CASE WHEN email_verified THEN updated_at ELSE now() END
    WHERE id = ${userId} AND email_normalized = ${emailNormalized}
    RETURNING ${USER_COLUMNS}`);
  return row === null ? null : toUser(row);
}
