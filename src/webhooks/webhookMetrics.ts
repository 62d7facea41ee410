import { Counter, Gauge, type Registry } from 'prom-client';

export interface WebhookMetrics {
  /** Attempts by outcome: succeeded, retried (failed, due again), dead (given up). */
  attempts: Counter<'outcome'>;
  /** Sets how gatehouse_webhook_queue_depth is read at scrape time (the dispatcher does). */
  observeQueued(read: () => Promise<number>): void;
}

/** The webhook dispatcher's Prometheus metrics. */
export function createWebhookMetrics(registry: Registry): WebhookMetrics {
  let readQueued: (() => Promise<number>) | undefined;
  new Gauge({
    name: 'gatehouse_webhook_queue_depth',
    help: 'Webhook deliveries pending or waiting for a retry (all instances; read from PostgreSQL at scrape time)',
    registers: [registry],
    async collect() {
      if (!readQueued) return;
      let timer: NodeJS.Timeout | undefined;
      try {
        // A scrape must not hang on a slow or unreachable database.
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('timeout')), 1000);
        });
        this.set(await Promise.race([readQueued(), timeout]));
      } catch {
        // The database is down or slow: keep the last value.
      } finally {
        clearTimeout(timer);
      }
    },
  });
  return {
    attempts: new Counter({
      name: 'gatehouse_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome: succeeded, retried, dead',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    observeQueued(read) {
      readQueued = read;
    },
  };
}
