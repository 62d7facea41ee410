import { z } from 'zod';
import type { RefreshToken } from '../domain/Session.ts';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

const refreshTokenRow = z.object({
  id: z.number(),
  session_id: z.string(),
  replaced_by_id: z.number().nullable(),
  created_at: z.date(),
  expires_at: z.date(),
  used_at: z.date().nullable(),
  revoked_at: z.date().nullable(),
});

function toRefreshToken(r: z.infer<typeof refreshTokenRow>): RefreshToken {
  return {
    id: r.id,
    sessionId: r.session_id,
    replacedById: r.replaced_by_id,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    usedAt: r.used_at,
    revokedAt: r.revoked_at,
  };
}

const COLUMNS = sql.fragment`id, session_id, replaced_by_id, created_at, expires_at, used_at, revoked_at`;

export interface NewRefreshToken {
  sessionId: string;
  tokenHash: Buffer;
  parentId: number | null;
  expiresAt: Date;
}

/**
 * The statements of a rotation, as built for slonik: the functions below send them, and the
 * benchmark's raw-pg baseline of Refresh sends exactly the same text and values.
 */
export const refreshTokenStatements = {
  insert: (t: NewRefreshToken) => sql.type(refreshTokenRow)`
    INSERT INTO refresh_tokens (session_id, token_hash, parent_id, expires_at)
    VALUES (${t.sessionId}, ${sql.binary(t.tokenHash)}, ${t.parentId}, ${sql.timestamp(t.expiresAt)})
    RETURNING ${COLUMNS}`,
  lockByHash: (tokenHash: Buffer) => sql.type(refreshTokenRow)`
    SELECT ${COLUMNS} FROM refresh_tokens WHERE token_hash = ${sql.binary(tokenHash)} FOR UPDATE`,
  markRotated: (id: number, successorId: number) => sql.typeAlias('void')`
    UPDATE refresh_tokens SET used_at = COALESCE(used_at, now()), replaced_by_id = ${successorId}
    WHERE id = ${id}`,
};

export async function insertRefreshToken(db: Db, t: NewRefreshToken): Promise<RefreshToken> {
  return toRefreshToken(await db.one(refreshTokenStatements.insert(t)));
}

/**
 * The token with this hash, row-locked: concurrent refreshes of one token queue here, so each
 * sees the state the previous one left (this is what prevents two live successors).
 */
export async function findRefreshTokenByHashForUpdate(
  db: Db,
  tokenHash: Buffer,
): Promise<RefreshToken | null> {
  const row = await db.maybeOne(refreshTokenStatements.lockByHash(tokenHash));
  return row && toRefreshToken(row);
}

export async function findRefreshTokenById(db: Db, id: number): Promise<RefreshToken | null> {
  const row = await db.maybeOne(
    sql.type(refreshTokenRow)`SELECT ${COLUMNS} FROM refresh_tokens WHERE id = ${id}`,
  );
  return row && toRefreshToken(row);
}

export async function findRefreshTokenByHash(
  db: Db,
  tokenHash: Buffer,
): Promise<RefreshToken | null> {
  const row = await db.maybeOne(sql.type(refreshTokenRow)`
    SELECT ${COLUMNS} FROM refresh_tokens WHERE token_hash = ${sql.binary(tokenHash)}`);
  return row && toRefreshToken(row);
}

/** Marks a token rotated (used, first time only) and links it to its successor. */
export async function updateRefreshTokenRotated(
  db: Db,
  id: number,
  successorId: number,
): Promise<void> {
  await db.query(refreshTokenStatements.markRotated(id, successorId));
}
