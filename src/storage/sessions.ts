import { z } from 'zod';
import type { AuthMethodReference } from '../domain/SecondFactor.ts';
import type { RevocationReason, Session, SessionLiveness } from '../domain/Session.ts';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';
import { queueWebhookEvents } from './webhookEvents.ts';

export const sessionRow = z.object({
  id: z.string(),
  user_id: z.string(),
  created_at: z.date(),
  last_used_at: z.date(),
  idle_expires_at: z.date(),
  expires_at: z.date(),
  revoked_at: z.date().nullable(),
  ip_address: z.string(),
  user_agent: z.string(),
  organization_id: z.string().nullable(),
  amr: z.array(z.string()),
  auth_time: z.date(),
});

export function toSession(r: z.infer<typeof sessionRow>): Session {
  return {
    id: r.id,
    userId: r.user_id,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    idleExpiresAt: r.idle_expires_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    ipAddress: r.ip_address,
    userAgent: r.user_agent,
    organizationId: r.organization_id,
    amr: r.amr as AuthMethodReference[],
    authTime: r.auth_time,
  };
}

const SESSION_COLUMNS = sql.fragment`
  id, user_id, created_at, last_used_at, idle_expires_at, expires_at, revoked_at, ip_address, user_agent,
  organization_id, amr, auth_time`;

export interface NewSession {
  id: string;
  userId: string;
  idleTimeoutSec: number;
  absoluteLifetimeSec: number;
  ipAddress: string;
  userAgent: string;
  /** The session's active organisation (membership checked by the caller); null for none. */
  organizationId: string | null;
  /** How the user authenticated (RFC 8176 names); the session's tokens carry it as `amr`. */
  amr: readonly AuthMethodReference[];
}

/**
 * Inserts a session and queues its `session.created` webhook event in the caller's transaction:
 * every path that starts a session (Login, CompleteMfaLogin, FinishPasskeyLogin, Register,
 * ChangePassword's fresh session) sends exactly one.
 */
export async function insertSession(db: Db, s: NewSession): Promise<Session> {
  const row = await db.one(sql.type(sessionRow)`
    INSERT INTO sessions (id, user_id, idle_expires_at, expires_at, ip_address, user_agent,
                          organization_id, amr)
    VALUES (${s.id}, ${s.userId},
            now() + make_interval(secs => ${Math.min(s.idleTimeoutSec, s.absoluteLifetimeSec)}),
            now() + make_interval(secs => ${s.absoluteLifetimeSec}),
            ${s.ipAddress}, ${s.userAgent}, ${s.organizationId},
            ${sql.array([...s.amr], 'text')})
    RETURNING ${SESSION_COLUMNS}`);
  await queueWebhookEvents(db, 'session.created', [
    {
      session_id: row.id,
      user_id: row.user_id,
      organization_id: row.organization_id,
      amr: row.amr.join(','),
    },
  ]);
  return toSession(row);
}

const sessionLiveness = z.object({
  user_id: z.string(),
  live: z.boolean(),
  roles: z.array(z.string()),
  expires_at: z.date(),
});

/**
 * Whether a session is live right now (not revoked, not past either deadline, user active),
 * with the user's current roles; null when there is no such session.
 */
export async function findSessionLiveness(
  db: Db,
  sessionId: string,
): Promise<SessionLiveness | null> {
  const row = await db.maybeOne(sql.type(sessionLiveness)`
    SELECT s.user_id, u.roles, s.expires_at,
           (s.revoked_at IS NULL AND s.expires_at > now() AND s.idle_expires_at > now()
            AND u.status = 'active') AS live
    FROM sessions s JOIN users u ON u.id = s.user_id
    WHERE s.id = ${sessionId}`);
  return (
    row && { userId: row.user_id, live: row.live, roles: row.roles, expiresAt: row.expires_at }
  );
}

/** A session's use at a refresh: its idle deadline moves, its address and client are kept. */
export interface SessionUse {
  idleTimeoutSec: number;
  ipAddress: string;
  userAgent: string;
}

/** Sets (or, with null, clears) the session's active organisation. */
export async function updateSessionOrganization(
  db: Db,
  sessionId: string,
  organizationId: string | null,
): Promise<void> {
  await db.query(sql.typeAlias('void')`
    UPDATE sessions SET organization_id = ${organizationId} WHERE id = ${sessionId}`);
}

/**
 * Clears the session's active organisation if it is still `organizationId` (a concurrent
 * SwitchOrganization to another one wins).
 */
export async function clearSessionOrganization(
  db: Db,
  sessionId: string,
  organizationId: string,
): Promise<void> {
  await db.query(sql.typeAlias('void')`
    UPDATE sessions SET organization_id = NULL
    WHERE id = ${sessionId} AND organization_id = ${organizationId}`);
}

export async function findSessionById(
  db: Db,
  sessionId: string,
  forUpdate = false,
): Promise<Session | null> {
  const row = await db.maybeOne(sql.type(sessionRow)`
    SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = ${sessionId}
    ${forUpdate ? sql.fragment`FOR UPDATE` : sql.fragment``}`);
  return row && toSession(row);
}

const authTimeRow = z.object({ auth_time: z.date() });

/** Moves the session's authentication to now with `amr` (Reauthenticate); its new auth_time. */
export async function updateSessionAuthentication(
  db: Db,
  sessionId: string,
  amr: readonly string[],
): Promise<Date> {
  return db.oneFirst(sql.type(authTimeRow)`
    UPDATE sessions SET auth_time = now(), amr = ${sql.array([...amr], 'text')}
    WHERE id = ${sessionId}
    RETURNING auth_time`);
}

/** Where a page of sessions starts: after this (last_used_at, id), in list order. */
export interface SessionCursor {
  /** last_used_at in UTC, microseconds, ISO form without zone (as cursor_last_used_at). */
  lastUsedAt: string;
  id: string;
}

const sessionPageRow = sessionRow.extend({ cursor_last_used_at: z.string() });

/** A session of a list page and the position after it (for the next page's token). */
export interface SessionPageEntry {
  session: Session;
  cursor: SessionCursor;
}

/**
 * One page of the user's sessions that are still usable, most recently used first
 * (last_used_at DESC, id DESC), after `after`: a keyset scan, so no row is cut off or repeated
 * by the paging itself.
 */
export async function findLiveSessionsPage(
  db: Db,
  userId: string,
  after: SessionCursor | null,
  limit: number,
): Promise<SessionPageEntry[]> {
  const rows = await db.any(sql.type(sessionPageRow)`
    SELECT ${SESSION_COLUMNS},
           to_char(last_used_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS cursor_last_used_at
    FROM sessions
    WHERE user_id = ${userId} AND revoked_at IS NULL AND expires_at > now() AND idle_expires_at > now()
      ${
        after === null
          ? sql.fragment``
          : sql.fragment`AND (last_used_at, id) <
              ((${after.lastUsedAt}::timestamp AT TIME ZONE 'UTC'), ${after.id}::uuid)`
      }
    ORDER BY last_used_at DESC, id DESC
    LIMIT ${limit}`);
  return rows.map((r) => ({
    session: toSession(r),
    cursor: { lastUsedAt: r.cursor_last_used_at, id: r.id },
  }));
}

const idRow = z.object({ id: z.string() });

/**
 * Revokes sessions and their refresh tokens, and queues one `session.revoked` webhook event per
 * session (with `reason`) in the caller's transaction; returns the ids that were live until now.
 * `only` limits it to these ids, `except` spares one (the caller's own). Every revocation goes
 * through here, so every revoked session sends exactly one event, whatever the path.
 */
export async function revokeSessions(
  db: Db,
  filter: { userId: string; only?: readonly string[]; except?: string },
  reason: RevocationReason,
): Promise<string[]> {
  const ids = await db.anyFirst(sql.type(idRow)`
    UPDATE sessions SET revoked_at = now(), revoked_reason = ${reason}
    WHERE user_id = ${filter.userId} AND revoked_at IS NULL
      ${filter.only ? sql.fragment`AND id = ANY(${sql.array([...filter.only], 'uuid')})` : sql.fragment``}
      ${filter.except ? sql.fragment`AND id <> ${filter.except}` : sql.fragment``}
    RETURNING id`);
  if (ids.length > 0) {
    await db.query(sql.typeAlias('void')`
      UPDATE refresh_tokens SET revoked_at = now()
      WHERE session_id = ANY(${sql.array(ids, 'uuid')}) AND revoked_at IS NULL`);
    await queueWebhookEvents(
      db,
      'session.revoked',
      ids.map((id) => ({ session_id: id, user_id: filter.userId, reason })),
    );
  }
  return [...ids];
}

/** Ids of every live session of a user (for cache invalidation after role/status changes). */
export async function findLiveSessionIdsByUser(db: Db, userId: string): Promise<string[]> {
  const ids = await db.anyFirst(sql.type(idRow)`
    SELECT id FROM sessions WHERE user_id = ${userId} AND revoked_at IS NULL AND expires_at > now()`);
  return [...ids];
}
