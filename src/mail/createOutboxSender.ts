import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../log.ts';
import type { DatabasePool } from '../storage/createDatabase.ts';
import {
  claimOutboxMessages,
  countPendingOutboxMessages,
  expireOutboxMessages,
  markOutboxMessageSent,
  type OutboxMessageRow,
  rescheduleOutboxMessage,
} from '../storage/outbox.ts';
import { describeSendError, isPermanentFailure, type MailTransport } from './MailTransport.ts';
import type { OutboxSenderSettings } from './mailConfig.ts';
import type { MailMetrics } from './mailMetrics.ts';

export interface OutboxSenderOptions {
  pool: DatabasePool;
  transport: MailTransport;
  /** The From header. */
  from: string;
  settings: OutboxSenderSettings;
  log: Logger;
  metrics?: MailMetrics;
  /** How long stop() lets sends in flight finish before aborting them (they are retried). */
  stopGraceMs?: number;
}

export interface OutboxSender {
  /** Polls every MAIL_POLL_INTERVAL_MS (and at once when woken). */
  start(): void;
  /** A message was committed by this instance: send it now rather than at the next poll. */
  wake(): void;
  /** One round now (coalesced with a running one): returns how many messages it claimed. */
  drain(): Promise<number>;
  /** No new claims; waits for sends in flight (aborted after the grace period), closes the transport. */
  stop(): Promise<void>;
}

/**
 * Drains outbox_messages. Each round claims up to MAIL_BATCH_SIZE due messages with a lease
 * (one short statement, FOR UPDATE SKIP LOCKED, so instances never claim the same row), sends
 * them concurrently with no transaction open, then records each outcome: sent (bodies blanked),
 * retry after exponential backoff with jitter, or failed (permanent refusal, MAIL_MAX_ATTEMPTS,
 * or the link expired first). A sender that dies leaves its rows leased; once the lease
 * (2 x MAIL_SEND_TIMEOUT_MS) expires another sender takes them over. Delivery is therefore
 * at-least-once: a message is sent again only if its sender died, or lost the database, between
 * the relay accepting it and recording that (docs/mail.md).
 */
export function createOutboxSender(options: OutboxSenderOptions): OutboxSender {
  const { pool, transport, settings, metrics } = options;
  const log = options.log.child({ component: 'outbox' });
  const owner = `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
  const leaseMs = settings.sendTimeoutMs * 2;
  const stopGraceMs = options.stopGraceMs ?? 5000;
  const aborter = new AbortController();
  let stopped = false;
  let started = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<number> | undefined;
  let again = false;
  let failing = false;

  const backoffMs = (attempt: number) => {
    const ceiling = Math.min(
      settings.retryMaxMs,
      settings.retryBaseMs * 2 ** Math.min(attempt - 1, 30),
    );
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  };

  async function recordFailure(message: OutboxMessageRow, error: unknown): Promise<void> {
    const permanent = isPermanentFailure(error);
    const giveUp = permanent || message.attempts >= settings.maxAttempts;
    const description = describeSendError(error);
    const retryInMs = giveUp ? 0 : backoffMs(message.attempts);
    const fields = {
      outboxId: message.id,
      kind: message.kind,
      messageId: message.message_id,
      attempt: message.attempts,
      error: description,
    };
    const status = await rescheduleOutboxMessage(pool, {
      id: message.id,
      owner,
      attempt: message.attempts,
      error: description,
      retryInMs,
      giveUp,
    });
    if (status === 'failed') {
      metrics?.failed.inc({ kind: message.kind });
      log.error(
        fields,
        permanent
          ? 'mail refused permanently by the relay: given up'
          : `mail not delivered after ${message.attempts} attempts: given up`,
      );
    } else if (status === 'pending') {
      metrics?.retried.inc({ kind: message.kind });
      log.warn({ ...fields, retryInMs: Math.round(retryInMs) }, 'mail not delivered: will retry');
    } else {
      log.warn(fields, 'mail attempt failed after its lease was taken over by another sender');
    }
  }

  async function deliver(message: OutboxMessageRow): Promise<void> {
    try {
      await transport.send(
        {
          kind: message.kind,
          from: options.from,
          to: message.recipient,
          subject: message.subject,
          text: message.text_body,
          html: message.html_body,
          messageId: message.message_id,
        },
        AbortSignal.any([AbortSignal.timeout(settings.sendTimeoutMs), aborter.signal]),
      );
    } catch (error) {
      await recordFailure(message, error).catch((err: unknown) =>
        log.warn(
          { err, outboxId: message.id },
          'could not record a failed mail attempt; the message is retried when its lease expires',
        ),
      );
      return;
    }
    metrics?.sent.inc({ kind: message.kind });
    try {
      const recorded = await markOutboxMessageSent(pool, {
        id: message.id,
        owner,
        attempt: message.attempts,
      });
      if (recorded) {
        // The log transport has already written the message's one line ("mail not sent").
        if (transport.name === 'log') return;
        log.info(
          {
            outboxId: message.id,
            kind: message.kind,
            messageId: message.message_id,
            attempt: message.attempts,
          },
          'mail sent',
        );
      } else {
        log.warn(
          { outboxId: message.id, messageId: message.message_id },
          'mail sent after its lease was taken over by another sender: it may arrive twice',
        );
      }
    } catch (err) {
      log.error(
        { err, outboxId: message.id, messageId: message.message_id },
        'mail sent but not recorded (database unavailable): it will be sent again when its lease expires',
      );
    }
  }

  /** Gives up expired messages, then claims and sends one batch; returns how many it claimed. */
  async function round(): Promise<number> {
    for (const kind of await expireOutboxMessages(pool)) {
      metrics?.failed.inc({ kind });
      log.error({ kind }, 'mail expired before it could be delivered: given up');
    }
    if (stopped) return 0;
    const batch = await claimOutboxMessages(pool, {
      limit: settings.batchSize,
      leaseMs,
      owner,
    });
    await Promise.all(batch.map(deliver));
    return batch.length;
  }

  /** Rounds until the outbox has nothing due (a full batch means there may be more). */
  async function drainAll(): Promise<number> {
    let total = 0;
    for (;;) {
      again = false;
      let claimed = 0;
      try {
        claimed = await round();
        if (failing) log.info('outbox sender reaches the database again');
        failing = false;
      } catch (err) {
        if (!failing) log.warn({ err }, 'outbox sender cannot reach the database; retrying');
        failing = true;
        return total;
      }
      total += claimed;
      if (stopped || (claimed < settings.batchSize && !again)) return total;
    }
  }

  function drain(): Promise<number> {
    if (inFlight) {
      again = true;
      return inFlight;
    }
    const run = drainAll().finally(() => {
      inFlight = undefined;
      schedule(settings.pollIntervalMs);
    });
    inFlight = run;
    return run;
  }

  function schedule(delayMs: number) {
    if (stopped || !started) return;
    clearTimeout(timer);
    timer = setTimeout(() => void drain(), delayMs);
    timer.unref();
  }

  return {
    start() {
      if (started) return;
      started = true;
      metrics?.observePending(() => countPendingOutboxMessages(pool));
      log.info(
        { transport: transport.name, owner, pollIntervalMs: settings.pollIntervalMs },
        'outbox sender started',
      );
      schedule(0);
    },
    wake() {
      if (stopped || !started) return;
      if (inFlight) again = true;
      else schedule(0);
    },
    drain,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      const running = inFlight;
      if (running) {
        const grace = new Promise<void>((resolve) => setTimeout(resolve, stopGraceMs).unref());
        await Promise.race([running.then(() => {}), grace]);
        aborter.abort(new Error('the outbox sender is stopping'));
        await running.catch(() => {});
      }
      transport.close();
    },
  };
}
