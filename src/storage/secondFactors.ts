import { z } from 'zod';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

// A user's second factors across their tables: TOTP (user_totp_factors), recovery codes
// (user_recovery_codes) and passkeys (webauthn_credentials, a table that exists only once
// passkeys are installed; looked up with to_regclass so this works with and without it).

const PASSKEY_TABLE = 'webauthn_credentials';

const presentRow = z.object({ present: z.boolean() });

/** Whether the passkey table exists in this database. */
async function hasPasskeyTable(db: Db): Promise<boolean> {
  return db.oneFirst(sql.type(presentRow)`
    SELECT to_regclass(${PASSKEY_TABLE}) IS NOT NULL AS present`);
}

/** Whether the user has a confirmed second factor: a confirmed TOTP authenticator or a passkey. */
export async function hasConfirmedSecondFactor(db: Db, userId: string): Promise<boolean> {
  const totp = await db.oneFirst(sql.type(presentRow)`
    SELECT EXISTS (
      SELECT 1 FROM user_totp_factors WHERE user_id = ${userId} AND confirmed_at IS NOT NULL
    ) AS present`);
  if (totp || !(await hasPasskeyTable(db))) return totp;
  return db.oneFirst(sql.type(presentRow)`
    SELECT EXISTS (
      SELECT 1 FROM ${sql.identifier([PASSKEY_TABLE])} WHERE user_id = ${userId}
    ) AS present`);
}

const confirmedFactorsRow = z.object({ totp: z.boolean(), passkey: z.boolean() });

/**
 * Which second factors the user has, in one statement (Login and Reauthenticate ask on every
 * call): a confirmed TOTP authenticator, any passkey. Needs the migrated schema (both tables).
 */
export async function findConfirmedSecondFactors(
  db: Db,
  userId: string,
): Promise<{ totp: boolean; passkey: boolean }> {
  return db.one(sql.type(confirmedFactorsRow)`
    SELECT
      EXISTS (
        SELECT 1 FROM user_totp_factors WHERE user_id = ${userId} AND confirmed_at IS NOT NULL
      ) AS totp,
      EXISTS (SELECT 1 FROM webauthn_credentials WHERE user_id = ${userId}) AS passkey`);
}

/** What deleteSecondFactors removed. */
export interface RemovedSecondFactors {
  totp: boolean;
  recoveryCodes: number;
  passkeys: number;
}

const countRow = z.object({ count: z.number() });

/** Removes every second factor of the user: TOTP (confirmed or pending), recovery codes, passkeys. */
export async function deleteSecondFactors(db: Db, userId: string): Promise<RemovedSecondFactors> {
  const totp = await db.oneFirst(sql.type(countRow)`
    WITH gone AS (DELETE FROM user_totp_factors WHERE user_id = ${userId} RETURNING 1)
    SELECT count(*)::int AS count FROM gone`);
  const recoveryCodes = await db.oneFirst(sql.type(countRow)`
    WITH gone AS (DELETE FROM user_recovery_codes WHERE user_id = ${userId} RETURNING 1)
    SELECT count(*)::int AS count FROM gone`);
  const passkeys = (await hasPasskeyTable(db))
    ? await db.oneFirst(sql.type(countRow)`
        WITH gone AS (
          DELETE FROM ${sql.identifier([PASSKEY_TABLE])} WHERE user_id = ${userId} RETURNING 1
        )
        SELECT count(*)::int AS count FROM gone`)
    : 0;
  return { totp: totp > 0, recoveryCodes, passkeys };
}
