import type { Logger } from '../log.ts';
import type { DatabasePool } from '../storage/createDatabase.ts';
import { countPendingOutboxMessages } from '../storage/outbox.ts';
import { createOutboxDelivery } from './createOutboxDelivery.ts';
import type { MailTransport } from './MailTransport.ts';
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
 * Drains outbox_messages on a schedule: every MAIL_POLL_INTERVAL_MS, and at once when woken by a
 * commit of this instance. Each round gives up expired messages and sends one claimed batch
 * (createOutboxDelivery); a full batch is followed by another round at once. A sender that dies
 * leaves its rows leased; once the lease (2 x MAIL_SEND_TIMEOUT_MS) expires another sender takes
 * them over. Delivery is therefore at-least-once: a message is sent again only if its sender
 * died, or lost the database, between the relay accepting it and recording that (docs/mail.md).
 */
export function createOutboxSender(options: OutboxSenderOptions): OutboxSender {
  const { pool, transport, settings, metrics } = options;
  const log = options.log.child({ component: 'outbox' });
  const stopGraceMs = options.stopGraceMs ?? 5000;
  const aborter = new AbortController();
  const delivery = createOutboxDelivery({
    pool,
    transport,
    from: options.from,
    settings,
    log,
    metrics,
    signal: aborter.signal,
  });
  let stopped = false;
  let started = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<number> | undefined;
  let again = false;
  let failing = false;

  /** Gives up expired messages, then claims and sends one batch; returns how many it claimed. */
  async function round(): Promise<number> {
    await delivery.expireOverdue();
    if (stopped) return 0;
    return delivery.sendDueBatch();
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
        {
          transport: transport.name,
          owner: delivery.owner,
          pollIntervalMs: settings.pollIntervalMs,
        },
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
