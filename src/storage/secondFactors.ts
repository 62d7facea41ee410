import { z } from 'zod';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

// A user's second factors across their tables: TOTP (user_totp_factors), recovery codes
// (user_recovery_codes) and passkeys (webauthn_credentials).

const confirmedFactorsRow = z.object({ totp: z.boolean(), passkey: z.boolean() });

/**
 * Which second factors the user has, in one statement (Login and Reauthenticate ask on every
 * call): a confirmed TOTP authenticator, any passkey.
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

/** Whether the user has a confirmed second factor: a confirmed TOTP authenticator or a passkey. */
export async function hasConfirmedSecondFactor(db: Db, userId: string): Promise<boolean> {
  const { totp, passkey } = await findConfirmedSecondFactors(db, userId);
  return totp || passkey;
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
  const passkeys = await db.oneFirst(sql.type(countRow)`
    WITH gone AS (DELETE FROM webauthn_credentials WHERE user_id = ${userId} RETURNING 1)
    SELECT count(*)::int AS count FROM gone`);
  return { totp: totp > 0, recoveryCodes, passkeys };
}
