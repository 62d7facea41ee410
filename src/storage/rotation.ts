import { z } from 'zod';
import type { RefreshToken, Session } from '../domain/Session.ts';
import type { UserStatus } from '../domain/User.ts';
import type { Db } from './Db.ts';
import { refreshTokenRow, toRefreshToken } from './refreshTokens.ts';
import { type SessionUse, sessionRow, toSession } from './sessions.ts';
import { sql } from './sql.ts';

// A refresh token's rotation (src/auth/refresh.ts) in two statements where it took six: the
// token locked together with its session and user, then the session's use, the successor and
// the link to it in one.

/** The session's columns as `s.<column>`, named as sessionRow reads them. */
const SESSION_COLUMNS_OF_S = sql.join(
  Object.keys(sessionRow.shape).map((column) => sql.identifier(['s', column])),
  sql.fragment`, `,
);

const lockedRow = sessionRow.extend({
  token_id: refreshTokenRow.shape.id,
  token_replaced_by_id: refreshTokenRow.shape.replaced_by_id,
  token_created_at: refreshTokenRow.shape.created_at,
  token_expires_at: refreshTokenRow.shape.expires_at,
  token_used_at: refreshTokenRow.shape.used_at,
  token_revoked_at: refreshTokenRow.shape.revoked_at,
  user_status: z.enum(['active', 'disabled', 'deleted']).nullable(),
  user_roles: z.array(z.string()).nullable(),
});

const rotatedRow = z.object({ successor_id: z.number(), expires_at: z.date() });

/** What a successful rotation writes besides the audit row. */
export interface Rotation {
  sessionId: string;
  /** The presented token's row, which the successor replaces. */
  parentId: number;
  successorHash: Buffer;
  use: SessionUse;
}

/**
 * The statements of a rotation, as built for slonik: the functions below send them, and the
 * benchmark's raw-pg baseline of Refresh sends exactly the same text and values.
 */
export const rotationStatements = {
  /**
   * The token with this hash, row-locked (concurrent refreshes of one token queue here, so each
   * sees the state the previous one left: this is what prevents two live successors), with its
   * session and its user (null columns once the user is deleted).
   */
  lock: (tokenHash: Buffer) => sql.type(lockedRow)`
    SELECT ${SESSION_COLUMNS_OF_S},
           t.id AS token_id, t.replaced_by_id AS token_replaced_by_id,
           t.created_at AS token_created_at, t.expires_at AS token_expires_at,
           t.used_at AS token_used_at, t.revoked_at AS token_revoked_at,
           u.status AS user_status, u.roles AS user_roles
    FROM refresh_tokens t
    JOIN sessions s ON s.id = t.session_id
    LEFT JOIN users u ON u.id = s.user_id AND u.status <> 'deleted'
    WHERE t.token_hash = ${sql.binary(tokenHash)}
    FOR UPDATE OF t`,
  /**
   * The session used now (from this address and client; its idle deadline slides forward, never
   * past the absolute one), the successor inserted to live until the earlier of the two, and the
   * presented token marked used (the first time only) and linked to it.
   */
  rotate: (r: Rotation) => sql.type(rotatedRow)`
    WITH touched AS (
      UPDATE sessions
      SET last_used_at = now(),
          idle_expires_at = LEAST(expires_at, now() + make_interval(secs => ${r.use.idleTimeoutSec})),
          ip_address = ${r.use.ipAddress},
          user_agent = ${r.use.userAgent}
      WHERE id = ${r.sessionId}
      RETURNING LEAST(idle_expires_at, expires_at) AS refresh_expires_at
    ), successor AS (
      INSERT INTO refresh_tokens (session_id, token_hash, parent_id, expires_at)
      SELECT ${r.sessionId}, ${sql.binary(r.successorHash)}, ${r.parentId}, refresh_expires_at
      FROM touched
      RETURNING id, expires_at
    )
    UPDATE refresh_tokens AS t
    SET used_at = COALESCE(t.used_at, now()), replaced_by_id = successor.id
    FROM successor
    WHERE t.id = ${r.parentId}
    RETURNING successor.id AS successor_id, successor.expires_at`,
};

/** A refresh token locked for its rotation, with what the rotation checks. */
export interface LockedRefreshToken {
  token: RefreshToken;
  session: Session;
  /** The session's user; null once deleted. */
  user: { id: string; status: UserStatus; roles: string[] } | null;
}

/** The token with this hash, locked, with its session and user; null for no such token. */
export async function lockRefreshTokenForRotation(
  db: Db,
  tokenHash: Buffer,
): Promise<LockedRefreshToken | null> {
  const row = await db.maybeOne(rotationStatements.lock(tokenHash));
  if (row === null) return null;
  return {
    token: toRefreshToken({
      id: row.token_id,
      session_id: row.id,
      replaced_by_id: row.token_replaced_by_id,
      created_at: row.token_created_at,
      expires_at: row.token_expires_at,
      used_at: row.token_used_at,
      revoked_at: row.token_revoked_at,
    }),
    session: toSession(row),
    user:
      row.user_status === null || row.user_roles === null
        ? null
        : { id: row.user_id, status: row.user_status, roles: row.user_roles },
  };
}

/** Writes the rotation (see rotationStatements.rotate); the successor's expiry. */
export async function rotateRefreshToken(db: Db, rotation: Rotation): Promise<Date> {
  return (await db.one(rotationStatements.rotate(rotation))).expires_at;
}
