import { Counter, Gauge, type Registry } from 'prom-client';

export interface MailMetrics {
  /** Messages accepted by the transport, by kind. */
  sent: Counter<'kind'>;
  /** Messages given up (permanent refusal, MAIL_MAX_ATTEMPTS reached, or expired), by kind. */
  failed: Counter<'kind'>;
  /** Failed attempts that will be retried, by kind. */
  retried: Counter<'kind'>;
  /** Sets how gatehouse_outbox_pending is read at scrape time (the outbox sender does). */
  observePending(read: () => Promise<number>): void;
}

/** The outbox's Prometheus metrics (label kind: password_reset, email_verification, invitation). */
export function createMailMetrics(registry: Registry): MailMetrics {
  let readPending: (() => Promise<number>) | undefined;
  new Gauge({
    name: 'gatehouse_outbox_pending',
    help: 'Messages in the outbox waiting to be sent (all instances; read from PostgreSQL at scrape time)',
    registers: [registry],
    async collect() {
      if (!readPending) return;
      let timer: NodeJS.Timeout | undefined;
      try {
        // A scrape must not hang on a slow or unreachable database.
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('timeout')), 1000);
        });
        this.set(await Promise.race([readPending(), timeout]));
      } catch {
        // The database is down or slow: keep the last value (gatehouse_dependency_up says why).
      } finally {
        clearTimeout(timer);
      }
    },
  });
  return {
    sent: new Counter({
      name: 'gatehouse_mail_sent_total',
      help: 'Messages accepted by the mail transport (SMTP relay or log), by kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
    failed: new Counter({
      name: 'gatehouse_mail_failed_total',
      help: 'Messages given up: refused permanently, out of attempts, or expired before delivery',
      labelNames: ['kind'],
      registers: [registry],
    }),
    retried: new Counter({
      name: 'gatehouse_mail_retries_total',
      help: 'Failed delivery attempts that will be retried with backoff, by kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
    observePending(read) {
      readPending = read;
    },
  };
}
