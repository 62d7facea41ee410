import { z } from 'zod';
import type { TotpFactor } from '../domain/SecondFactor.ts';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

// Users' TOTP authenticators (table user_totp_factors), one per user; secrets only sealed.

const factorRow = z.object({
  user_id: z.string(),
  secret_ciphertext: z.instanceof(Buffer),
  key_id: z.string(),
  created_at: z.date(),
  confirmed_at: z.date().nullable(),
  last_used_step: z.number().nullable(),
});

function toFactor(r: z.infer<typeof factorRow>): TotpFactor {
  return {
    userId: r.user_id,
    secretCiphertext: r.secret_ciphertext,
    keyId: r.key_id,
    createdAt: r.created_at,
    confirmedAt: r.confirmed_at,
    lastUsedStep: r.last_used_step,
  };
}

const COLUMNS = sql.fragment`
  user_id, secret_ciphertext, key_id, created_at, confirmed_at, last_used_step`;

/** The user's authenticator (confirmed or pending), or null; FOR UPDATE when asked. */
export async function findTotpFactorByUserId(
  db: Db,
  userId: string,
  forUpdate = false,
): Promise<TotpFactor | null> {
  const row = await db.maybeOne(sql.type(factorRow)`
    SELECT ${COLUMNS} FROM user_totp_factors WHERE user_id = ${userId}
    ${forUpdate ? sql.fragment`FOR UPDATE` : sql.fragment``}`);
  return row && toFactor(row);
}

const replacedRow = z.object({ replaced: z.boolean() });

/**
 * Stores a pending enrolment, replacing a pending one; a confirmed one is kept and null comes
 * back (the caller reports TOTP_ALREADY_ENROLLED). `replaced` says whether one was pending.
 */
export async function upsertPendingTotpFactor(
  db: Db,
  factor: { userId: string; secretCiphertext: Buffer; keyId: string },
): Promise<{ replaced: boolean } | null> {
  const row = await db.maybeOne(sql.type(replacedRow)`
    INSERT INTO user_totp_factors (user_id, secret_ciphertext, key_id)
    VALUES (${factor.userId}, ${sql.binary(factor.secretCiphertext)}, ${factor.keyId})
    ON CONFLICT (user_id) DO UPDATE
      SET secret_ciphertext = EXCLUDED.secret_ciphertext, key_id = EXCLUDED.key_id,
          created_at = now(), last_used_step = NULL
      WHERE user_totp_factors.confirmed_at IS NULL
    RETURNING (xmax <> 0) AS replaced`);
  return row;
}

const userIdRow = z.object({ user_id: z.string() });

/**
 * Records that the code of `step` was accepted, only if no code of that step or a later one
 * was (the replay guard, atomic against concurrent calls); false when one was.
 */
export async function claimTotpStep(db: Db, userId: string, step: number): Promise<boolean> {
  const row = await db.maybeOne(sql.type(userIdRow)`
    UPDATE user_totp_factors SET last_used_step = ${step}
    WHERE user_id = ${userId} AND (last_used_step IS NULL OR last_used_step < ${step})
    RETURNING user_id`);
  return row !== null;
}

/** Activates the pending enrolment; false when there is none pending. */
export async function confirmTotpFactor(db: Db, userId: string): Promise<boolean> {
  const row = await db.maybeOne(sql.type(userIdRow)`
    UPDATE user_totp_factors SET confirmed_at = now()
    WHERE user_id = ${userId} AND confirmed_at IS NULL
    RETURNING user_id`);
  return row !== null;
}

/** Removes the user's authenticator (confirmed or pending); whether there was one. */
export async function deleteTotpFactor(db: Db, userId: string): Promise<boolean> {
  const row = await db.maybeOne(sql.type(userIdRow)`
    DELETE FROM user_totp_factors WHERE user_id = ${userId} RETURNING user_id`);
  return row !== null;
}

const totalOtherKeyRow = z.object({ total: z.number(), other_key: z.number() });

/** How many stored secrets there are, and how many are sealed under another key than `keyId`. */
export async function countTotpSecrets(
  db: Db,
  keyId: string | null,
): Promise<{ total: number; otherKey: number }> {
  const row = await db.one(sql.type(totalOtherKeyRow)`
    SELECT count(*)::int AS total,
           count(*) FILTER (WHERE key_id IS DISTINCT FROM ${keyId})::int AS other_key
    FROM user_totp_factors`);
  return { total: row.total, otherKey: row.other_key };
}
