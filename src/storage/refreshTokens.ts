import { z } from 'zod';
import type { RefreshToken } from '../domain/Session.ts';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

export const refreshTokenRow = z.object({
  id: z.number(),
  session_id: z.string(),
  replaced_by_id: z.number().nullable(),
  created_at: z.date(),
  expires_at: z.date(),
  used_at: z.date().nullable(),
  revoked_at: z.date().nullable(),
});

export function toRefreshToken(r: z.infer<typeof refreshTokenRow>): RefreshToken {
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

export async function insertRefreshToken(db: Db, t: NewRefreshToken): Promise<RefreshToken> {
  return toRefreshToken(
    await db.one(sql.type(refreshTokenRow)`
      INSERT INTO refresh_tokens (session_id, token_hash, parent_id, expires_at)
      VALUES (${t.sessionId}, ${sql.binary(t.tokenHash)}, ${t.parentId}, ${sql.timestamp(t.expiresAt)})
      RETURNING ${COLUMNS}`),
  );
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
