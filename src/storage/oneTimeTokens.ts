import { z } from 'zod';
import type { OneTimePurpose, UsableOneTimeToken } from '../domain/OneTimeToken.ts';
import type { User } from '../domain/User.ts';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

/*
 * Password-reset and email-verification tokens (table one_time_tokens): only their SHA-256 is
 * stored, with the address they were sent to. A token is usable while it is unused, unrevoked,
 * unexpired, its user is active and still has that address.
 *
 * Functions that take a nullable user run the same statement either way and change nothing for
 * null: RequestPasswordReset does the same database work whether or not the address exists.
 */

const idRow = z.object({ id: z.string() });

/**
 * Revokes the user's unused tokens of `purpose`, or of every purpose when it is omitted (email
 * change, deletion); none for a null user. Returns how many.
 */
export async function revokeOneTimeTokens(
  db: Db,
  userId: string | null,
  purpose?: OneTimePurpose,
): Promise<number> {
  const ids = await db.anyFirst(sql.type(idRow)`
    UPDATE one_time_tokens SET revoked_at = now()
    WHERE user_id = ${userId}::uuid
      ${purpose === undefined ? sql.fragment`` : sql.fragment`AND purpose = ${purpose}`}
      AND used_at IS NULL AND revoked_at IS NULL
    RETURNING id`);
  return ids.length;
}

const expiresAtRow = z.object({ expires_at: z.date() });

/** Stores a new token's hash for `user` (nothing for a null user); returns its expiry. */
export async function insertOneTimeToken(
  db: Db,
  token: {
    user: Pick<User, 'id' | 'emailNormalized'> | null;
    purpose: OneTimePurpose;
    tokenHash: Buffer;
    ttlSec: number;
  },
): Promise<Date | null> {
  const row = await db.maybeOne(sql.type(expiresAtRow)`
    INSERT INTO one_time_tokens (user_id, purpose, token_hash, email_normalized, expires_at)
    SELECT v.user_id, ${token.purpose}, ${sql.binary(token.tokenHash)}, v.email_normalized,
           now() + make_interval(secs => ${token.ttlSec})
    FROM (SELECT ${token.user?.id ?? null}::uuid AS user_id,
                 ${token.user?.emailNormalized ?? null}::text AS email_normalized) v
    WHERE v.user_id IS NOT NULL
    RETURNING expires_at`);
  return row?.expires_at ?? null;
}

const usableRow = z.object({
  id: z.string(),
  user_id: z.string(),
  email_normalized: z.string(),
  username: z.string().nullable(),
});

function toUsableToken(r: z.infer<typeof usableRow>): UsableOneTimeToken {
  return { id: r.id, userId: r.user_id, emailNormalized: r.email_normalized, username: r.username };
}

/** The usable token with this hash and its user (see the top of this file). */
const selectUsable = (purpose: OneTimePurpose, tokenHash: Buffer) => sql.fragment`
  SELECT t.id, t.user_id, t.email_normalized, u.username
  FROM one_time_tokens t JOIN users u ON u.id = t.user_id
  WHERE t.token_hash = ${sql.binary(tokenHash)} AND t.purpose = ${purpose}
    AND t.used_at IS NULL AND t.revoked_at IS NULL AND t.expires_at > now()
    AND u.status = 'active' AND u.email_normalized = t.email_normalized`;

/** The usable token with this hash and its user, without locking (a pre-check); or null. */
export async function findUsableOneTimeToken(
  db: Db,
  purpose: OneTimePurpose,
  tokenHash: Buffer,
): Promise<UsableOneTimeToken | null> {
  const row = await db.maybeOne(sql.type(usableRow)`${selectUsable(purpose, tokenHash)}`);
  return row && toUsableToken(row);
}

/**
 * Uses up the token with this hash if it is usable, in the caller's transaction: token and user
 * rows are locked first (SELECT ... FOR UPDATE re-checks the conditions after waiting), so of
 * two concurrent calls with one token exactly one gets it. Null when it is not usable.
 */
export async function consumeOneTimeToken(
  db: Db,
  purpose: OneTimePurpose,
  tokenHash: Buffer,
): Promise<UsableOneTimeToken | null> {
  const token = await db.maybeOne(sql.type(usableRow)`
    ${selectUsable(purpose, tokenHash)}
    FOR UPDATE OF t, u`);
  if (token === null) return null;
  await db.query(sql.typeAlias('void')`
    UPDATE one_time_tokens SET used_at = now() WHERE id = ${token.id}`);
  return toUsableToken(token);
}
