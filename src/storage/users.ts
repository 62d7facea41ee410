import type { CommonQueryMethods } from 'slonik';
import { UniqueIntegrityConstraintViolationError } from 'slonik';
import { z } from 'zod';
import { AppError } from '../errors/AppError.ts';
import { sql } from './sql.ts';

/** A connection or transaction: repository functions take it first. */
export type Db = CommonQueryMethods;

export const userRow = z.object({
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
export type UserRow = z.infer<typeof userRow>;

export const USER_COLUMNS = sql.fragment`
  id, email, email_normalized, username, display_name, password_hash, roles, status,
  email_verified, failed_login_count, lockout_count, locked_until, created_at, updated_at,
  last_login_at`;

export interface NewUser {
  email: string;
  emailNormalized: string;
  username: string | null;
  usernameNormalized: string | null;
  displayName: string;
  passwordHash: string | null;
  roles: readonly string[];
  emailVerified: boolean;
  createdAt?: Date;
}

/** Maps a unique violation on users to EMAIL_TAKEN / USERNAME_TAKEN; rethrows anything else. */
export function rethrowUniqueViolation(error: unknown): never {
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
export async function insertUser(db: Db, user: NewUser): Promise<UserRow> {
  try {
    return await db.one(sql.type(userRow)`
      INSERT INTO users (email, email_normalized, username, username_normalized, display_name,
                         password_hash, roles, email_verified, created_at, updated_at)
      VALUES (${user.email}, ${user.emailNormalized}, ${user.username}, ${user.usernameNormalized},
              ${user.displayName}, ${user.passwordHash}, ${sql.array([...user.roles], 'text')},
              ${user.emailVerified}, ${user.createdAt ? sql.timestamp(user.createdAt) : sql.fragment`now()`},
              now())
      RETURNING ${USER_COLUMNS}`);
  } catch (error) {
    rethrowUniqueViolation(error);
  }
}

/** The live (not deleted) user with this normalised email or username, or null. */
export async function findUserByIdentifier(db: Db, normalized: string): Promise<UserRow | null> {
  const column = normalized.includes('@')
    ? sql.identifier(['email_normalized'])
    : sql.identifier(['username_normalized']);
  return db.maybeOne(sql.type(userRow)`
    SELECT ${USER_COLUMNS} FROM users
    WHERE ${column} = ${normalized} AND status <> 'deleted'`);
}

/** The user with this id (deleted users included only when asked), or null. */
export async function findUserById(
  db: Db,
  id: string,
  options: { forUpdate?: boolean; includeDeleted?: boolean } = {},
): Promise<UserRow | null> {
  return db.maybeOne(sql.type(userRow)`
    SELECT ${USER_COLUMNS} FROM users
    WHERE id = ${id} ${options.includeDeleted ? sql.fragment`` : sql.fragment`AND status <> 'deleted'`}
    ${options.forUpdate ? sql.fragment`FOR UPDATE` : sql.fragment``}`);
}

/** Records a successful login: clears failure and lockout state, optionally stores an upgraded hash. */
export async function updateUserLoginSucceeded(
  db: Db,
  id: string,
  upgradedHash: string | null,
): Promise<UserRow> {
  return db.one(sql.type(userRow)`
    UPDATE users
    SET last_login_at = now(), failed_login_count = 0, locked_until = NULL, lockout_count = 0,
        password_hash = COALESCE(${upgradedHash}, password_hash)
    WHERE id = ${id}
    RETURNING ${USER_COLUMNS}`);
}

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
  const row = await db.one(sql.type(z.object({ allowed: z.boolean() }))`
    UPDATE users
    SET failed_login_count = CASE WHEN locked_until <= now() THEN 1 ELSE failed_login_count + 1 END,
        locked_until = CASE WHEN locked_until <= now() THEN NULL ELSE locked_until END
    WHERE id = ${id}
    RETURNING (locked_until IS NULL AND failed_login_count <= ${threshold}) AS allowed`);
  return row.allowed;
}

/**
 * After a failed check: locks the account once `threshold` consecutive failures are reached, for
 * `baseSec * 2^(earlier lockouts)` capped at `maxSec`. Returns the lock's end if this call locked it.
 */
export async function lockUserIfThresholdReached(
  db: Db,
  id: string,
  policy: { threshold: number; baseSec: number; maxSec: number },
): Promise<Date | null> {
  const row = await db.maybeOne(sql.type(z.object({ locked_until: z.date() }))`
    UPDATE users
    SET locked_until = now() + make_interval(secs => LEAST(${policy.baseSec}::float8 * power(2, LEAST(lockout_count, 30)), ${policy.maxSec})),
        lockout_count = lockout_count + 1
    WHERE id = ${id} AND failed_login_count >= ${policy.threshold} AND locked_until IS NULL
    RETURNING locked_until`);
  return row?.locked_until ?? null;
}

/** Replaces the password hash and clears lockout state. */
export async function updateUserPassword(
  db: Db,
  id: string,
  passwordHash: string,
): Promise<UserRow> {
  return db.one(sql.type(userRow)`
    UPDATE users
    SET password_hash = ${passwordHash}, updated_at = now(), failed_login_count = 0, locked_until = NULL
    WHERE id = ${id}
    RETURNING ${USER_COLUMNS}`);
}
