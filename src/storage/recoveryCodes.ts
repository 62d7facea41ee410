import { z } from 'zod';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

// Users' recovery codes (table user_recovery_codes): only SHA-256 of each normalised code.

const countRow = z.object({ count: z.number() });

/** Replaces the user's set with these hashes; returns how many unused codes were voided. */
export async function replaceRecoveryCodes(
  db: Db,
  userId: string,
  hashes: readonly Buffer[],
): Promise<number> {
  const voided = await db.oneFirst(sql.type(countRow)`
    WITH gone AS (DELETE FROM user_recovery_codes WHERE user_id = ${userId} RETURNING used_at)
    SELECT count(*) FILTER (WHERE used_at IS NULL)::int AS count FROM gone`);
  await db.query(sql.typeAlias('void')`
    INSERT INTO user_recovery_codes (user_id, code_hash)
    VALUES ${sql.join(
      hashes.map((h) => sql.fragment`(${userId}, ${sql.binary(h)})`),
      sql.fragment`, `,
    )}`);
  return voided;
}

const idRow = z.object({ id: z.number() });

/** Uses up the unused code with this hash, atomically; false when there is none. */
export async function consumeRecoveryCode(db: Db, userId: string, hash: Buffer): Promise<boolean> {
  const row = await db.maybeOne(sql.type(idRow)`
    UPDATE user_recovery_codes SET used_at = now()
    WHERE user_id = ${userId} AND code_hash = ${sql.binary(hash)} AND used_at IS NULL
    RETURNING id`);
  return row !== null;
}

/** The number of the user's unused recovery codes. */
export async function countUnusedRecoveryCodes(db: Db, userId: string): Promise<number> {
  return db.oneFirst(sql.type(countRow)`
    SELECT count(*)::int AS count FROM user_recovery_codes
    WHERE user_id = ${userId} AND used_at IS NULL`);
}

/** Removes all of the user's codes (DisableTotp). */
export async function deleteRecoveryCodes(db: Db, userId: string): Promise<void> {
  await db.query(sql.typeAlias('void')`
    DELETE FROM user_recovery_codes WHERE user_id = ${userId}`);
}
