import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../log.ts';
import type { DatabasePool } from '../storage/createDatabase.ts';
import {
  claimOutboxMessages,
  expireOutboxMessages,
  markOutboxMessageSent,
  type OutboxMessageRow,
  rescheduleOutboxMessage,
} from '../storage/outbox.ts';
import { describeSendError, isPermanentFailure, type MailTransport } from './MailTransport.ts';
import type { OutboxSenderSettings } from './mailConfig.ts';
import type { MailMetrics } from './mailMetrics.ts';

export interface OutboxDeliveryOptions {
  pool: DatabasePool;
  transport: MailTransport;
  /** The From header. */
  from: string;
  settings: OutboxSenderSettings;
  log: Logger;
  metrics: MailMetrics | undefined;
  /** Aborts sends in flight (the sender is stopping); their messages are retried. */
  signal: AbortSignal;
}

export interface OutboxDelivery {
  /** Who holds this delivery's leases: host, pid and a random suffix. */
  readonly owner: string;
  /** Gives up messages whose link expired before they could be delivered. */
  expireOverdue(): Promise<void>;
  /** Claims up to MAIL_BATCH_SIZE due messages, sends them, records each outcome; how many. */
  sendDueBatch(): Promise<number>;
}

/**
 * One claim/send/record cycle over outbox_messages. A claim is one short statement with a lease
 * (FOR UPDATE SKIP LOCKED, so instances never claim the same row); sends run concurrently with no
 * transaction open; each outcome is recorded against the lease: sent (bodies blanked), retry after
 * exponential backoff with jitter, or failed (permanent refusal or MAIL_MAX_ATTEMPTS). An outcome
 * recorded after the lease was taken over is refused by the storage and logged.
 */
export function createOutboxDelivery(options: OutboxDeliveryOptions): OutboxDelivery {
  const { pool, transport, settings, metrics, log } = options;
  const owner = `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
  const leaseMs = settings.sendTimeoutMs * 2;

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

  async function recordSent(message: OutboxMessageRow): Promise<void> {
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
        AbortSignal.any([AbortSignal.timeout(settings.sendTimeoutMs), options.signal]),
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
    await recordSent(message);
  }

  return {
    owner,
    async expireOverdue() {
      for (const kind of await expireOutboxMessages(pool)) {
        metrics?.failed.inc({ kind });
        log.error({ kind }, 'mail expired before it could be delivered: given up');
      }
    },
    async sendDueBatch() {
      const batch = await claimOutboxMessages(pool, { limit: settings.batchSize, leaseMs, owner });
      await Promise.all(batch.map(deliver));
      return batch.length;
    },
  };
}
