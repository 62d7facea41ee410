import { z } from 'zod';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

const outboxMessageRow = z.object({
  id: z.number(),
  kind: z.string(),
  recipient: z.string(),
  subject: z.string(),
  text_body: z.string(),
  html_body: z.string(),
  message_id: z.string(),
  attempts: z.number(),
});
export type OutboxMessageRow = z.infer<typeof outboxMessageRow>;

const OUTBOX_COLUMNS = sql.fragment`
  id, kind, recipient, subject, text_body, html_body, message_id, attempts`;

export interface NewOutboxMessage {
  kind: string;
  /** null: run the same statement but queue nothing (callers that must not differ in timing). */
  recipient: string | null;
  subject: string;
  text: string;
  html: string;
  messageId: string;
  /** The message is given up, never sent, once this many seconds have passed. */
  ttlSec: number;
}

const idRow = z.object({ id: z.number() });

/** Queues a message in the caller's transaction; returns its id (null when recipient is null). */
export async function insertOutboxMessage(db: Db, m: NewOutboxMessage): Promise<number | null> {
  const row = await db.maybeOne(sql.type(idRow)`
    INSERT INTO outbox_messages (kind, recipient, subject, text_body, html_body, message_id, expires_at)
    SELECT ${m.kind}, r.recipient, ${m.subject}, ${m.text}, ${m.html}, ${m.messageId},
           now() + make_interval(secs => ${m.ttlSec})
    FROM (SELECT ${m.recipient}::text AS recipient) r
    WHERE r.recipient IS NOT NULL
    RETURNING id`);
  return row?.id ?? null;
}

/**
 * Claims up to `limit` due messages for `owner`: a lease of `leaseMs` during which no other
 * sender takes them, and one more attempt counted. SKIP LOCKED lets senders claim side by side
 * without waiting for or taking each other's rows; a row whose lease expired (its sender died)
 * is due again. Runs as one statement, so the claim commits at once.
 */
export async function claimOutboxMessages(
  db: Db,
  claim: { limit: number; leaseMs: number; owner: string },
): Promise<readonly OutboxMessageRow[]> {
  return db.any(sql.type(outboxMessageRow)`
    UPDATE outbox_messages
    SET attempts = attempts + 1,
        locked_until = now() + make_interval(secs => ${claim.leaseMs / 1000}),
        locked_by = ${claim.owner}
    WHERE id IN (
      SELECT id FROM outbox_messages
      WHERE status = 'pending' AND next_attempt_at <= now() AND expires_at > now()
        AND (locked_until IS NULL OR locked_until <= now())
      ORDER BY next_attempt_at, id
      LIMIT ${claim.limit}
      FOR UPDATE SKIP LOCKED)
    RETURNING ${OUTBOX_COLUMNS}`);
}

/**
 * Records a delivery and blanks the bodies (they hold a one-time link). Only the claim that
 * made this attempt may do so; false means the lease had been lost to another sender.
 */
export async function markOutboxMessageSent(
  db: Db,
  claim: { id: number; owner: string; attempt: number },
): Promise<boolean> {
  const row = await db.maybeOne(sql.type(idRow)`
    UPDATE outbox_messages
    SET status = 'sent', sent_at = now(), text_body = '', html_body = '', locked_until = NULL,
        last_error = NULL
    WHERE id = ${claim.id} AND locked_by = ${claim.owner} AND attempts = ${claim.attempt}
      AND status = 'pending'
    RETURNING id`);
  return row !== null;
}

const statusRow = z.object({ status: z.enum(['pending', 'failed']) });

/**
 * After a failed attempt: due again in `retryInMs`, or given up (`giveUp`: status 'failed',
 * bodies blanked). Returns the new status, or null when the lease had been lost.
 */
export async function rescheduleOutboxMessage(
  db: Db,
  attempt: {
    id: number;
    owner: string;
    attempt: number;
    error: string;
    retryInMs: number;
    giveUp: boolean;
  },
): Promise<'pending' | 'failed' | null> {
  const row = await db.maybeOne(sql.type(statusRow)`
    UPDATE outbox_messages
    SET status = CASE WHEN ${attempt.giveUp} THEN 'failed' ELSE 'pending' END,
        next_attempt_at = now() + make_interval(secs => ${attempt.retryInMs / 1000}),
        text_body = CASE WHEN ${attempt.giveUp} THEN '' ELSE text_body END,
        html_body = CASE WHEN ${attempt.giveUp} THEN '' ELSE html_body END,
        locked_until = NULL,
        last_error = ${attempt.error.slice(0, 1000)}
    WHERE id = ${attempt.id} AND locked_by = ${attempt.owner} AND attempts = ${attempt.attempt}
      AND status = 'pending'
    RETURNING status`);
  return row?.status ?? null;
}

const kindRow = z.object({ kind: z.string() });

/**
 * Gives up pending messages whose link has expired (never sent: the link would not work) and
 * blanks their bodies; returns the kind of each. Rows leased by a live sender are left to it.
 */
export async function expireOutboxMessages(db: Db): Promise<readonly string[]> {
  return db.anyFirst(sql.type(kindRow)`
    UPDATE outbox_messages
    SET status = 'failed', text_body = '', html_body = '', locked_until = NULL,
        last_error = 'expired before it could be delivered'
    WHERE id IN (
      SELECT id FROM outbox_messages
      WHERE status = 'pending' AND expires_at <= now()
        AND (locked_until IS NULL OR locked_until <= now())
      LIMIT 100
      FOR UPDATE SKIP LOCKED)
    RETURNING kind`);
}

const countRow = z.object({ count: z.number() });

/** How many messages wait to be sent (metrics). */
export async function countPendingOutboxMessages(db: Db): Promise<number> {
  return db.oneFirst(sql.type(countRow)`
    SELECT count(*)::int AS count FROM outbox_messages WHERE status = 'pending'`);
}
