import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { SecretBox } from '../auth/createSecretBox.ts';
import type { WebhookConfig } from '../config/webhookConfig.ts';
import { webhookEventId } from '../domain/Webhook.ts';
import type { Logger } from '../log.ts';
import type { DatabasePool } from '../storage/createDatabase.ts';
import {
  type ClaimedWebhookDelivery,
  claimWebhookDeliveries,
  countQueuedWebhookDeliveries,
  recordWebhookAttempt,
} from '../storage/webhookDeliveries.ts';
import type { AddressPolicy } from './createAddressPolicy.ts';
import { postWebhook, type WebhookResponse } from './postWebhook.ts';
import { retryDelayMs } from './retryDelayMs.ts';
import type { WebhookMetrics } from './webhookMetrics.ts';
import { webhookSecretOwner } from './webhookSecrets.ts';

export interface WebhookDispatcherOptions {
  pool: DatabasePool;
  /** Opens the sealed signing secrets; null: none can be opened (every attempt fails). */
  secretBox: SecretBox | null;
  addresses: AddressPolicy;
  settings: WebhookConfig;
  log: Logger;
  metrics?: WebhookMetrics;
  /** How long stop() lets posts in flight finish before aborting them (they are retried). */
  stopGraceMs?: number;
}

export interface WebhookDispatcher {
  /** Polls every WEBHOOK_POLL_INTERVAL_MS. */
  start(): void;
  /** One round now (coalesced with a running one): how many deliveries it claimed. */
  drain(): Promise<number>;
  /** No new claims; waits for posts in flight (aborted after the grace period). */
  stop(): Promise<void>;
}

/**
 * Sends webhook deliveries: every WEBHOOK_POLL_INTERVAL_MS it claims a batch of due deliveries
 * (a lease, FOR UPDATE SKIP LOCKED: instances never claim the same row), POSTs them side by side
 * with no transaction open, and records each outcome against its lease: succeeded; failed and
 * due again after exponential backoff with jitter; or dead once WEBHOOK_MAX_ATTEMPTS or the
 * retry period is used up. A full batch is followed by another at once. A dispatcher that dies
 * leaves its rows leased; once the lease (2 x WEBHOOK_TIMEOUT_MS) expires another takes them
 * over, so delivery is at-least-once (receivers dedupe by webhook-id).
 */
export function createWebhookDispatcher(options: WebhookDispatcherOptions): WebhookDispatcher {
  const { pool, settings, metrics, secretBox } = options;
  const log = options.log.child({ component: 'webhooks' });
  const stopGraceMs = options.stopGraceMs ?? 5000;
  const owner = `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
  const leaseMs = settings.timeoutMs * 2 + 1000;
  const aborter = new AbortController();
  let stopped = false;
  let started = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<number> | undefined;
  let failing = false;

  /** The whsec_ secrets to sign with, or why there are none. */
  function secretsOf(d: ClaimedWebhookDelivery): string[] | string {
    if (secretBox === null) return 'signing secrets cannot be opened: MFA_ENCRYPTION_KEY is unset';
    const owner = webhookSecretOwner(d.endpoint_id);
    const current = secretBox.open(d.secret_ciphertext, owner);
    if (current === null) {
      return 'the signing secret cannot be opened with this MFA_ENCRYPTION_KEY';
    }
    const previous =
      d.previous_secret_ciphertext === null
        ? null
        : secretBox.open(d.previous_secret_ciphertext, owner);
    return previous === null ? [current] : [current, previous];
  }

  async function attempt(d: ClaimedWebhookDelivery): Promise<WebhookResponse> {
    const secrets = secretsOf(d);
    if (typeof secrets === 'string') return { ok: false, statusCode: null, error: secrets };
    return postWebhook(
      { url: d.url, eventId: webhookEventId(d.event_id), body: d.payload, secrets },
      {
        check: options.addresses.checkAddress,
        timeoutMs: settings.timeoutMs,
        signal: aborter.signal,
        userAgent: 'Gatehouse-Webhooks/1',
      },
    );
  }

  async function deliver(d: ClaimedWebhookDelivery): Promise<void> {
    const response = await attempt(d);
    const giveUp = !response.ok && (d.attempts >= settings.maxAttempts || d.period_over);
    const status = response.ok ? 'succeeded' : giveUp ? 'dead' : 'failed';
    const retryInMs = status === 'failed' ? retryDelayMs(d.attempts, settings) : 0;
    const fields = {
      deliveryId: d.id,
      endpointId: d.endpoint_id,
      eventType: d.event_type,
      attempt: d.attempts,
      statusCode: response.statusCode,
    };
    try {
      const recorded = await recordWebhookAttempt(pool, {
        id: d.id,
        owner,
        attempt: d.attempts,
        statusCode: response.statusCode,
        status,
        error: response.ok ? null : response.error,
        retryInMs,
      });
      if (recorded === null) {
        log.warn(
          fields,
          'webhook attempt ended after its lease was taken over (or it was replayed)',
        );
        return;
      }
    } catch (err) {
      log.warn(
        { ...fields, err },
        'could not record a webhook attempt; retried when its lease expires',
      );
      return;
    }
    if (response.ok) {
      metrics?.attempts.inc({ outcome: 'succeeded' });
      log.debug(fields, 'webhook delivered');
    } else if (status === 'dead') {
      metrics?.attempts.inc({ outcome: 'dead' });
      log.error({ ...fields, error: response.error }, 'webhook not delivered: given up (dead)');
    } else {
      metrics?.attempts.inc({ outcome: 'retried' });
      log.warn(
        { ...fields, error: response.error, retryInMs: Math.round(retryInMs) },
        'webhook not delivered: will retry',
      );
    }
  }

  async function drainAll(): Promise<number> {
    let total = 0;
    for (;;) {
      let batch: readonly ClaimedWebhookDelivery[];
      try {
        batch = await claimWebhookDeliveries(pool, {
          limit: settings.batchSize,
          leaseMs,
          owner,
          retryPeriodSec: settings.retryPeriodSec,
        });
        if (failing) log.info('webhook dispatcher reaches the database again');
        failing = false;
      } catch (err) {
        if (!failing) log.warn({ err }, 'webhook dispatcher cannot reach the database; retrying');
        failing = true;
        return total;
      }
      await Promise.all(batch.map(deliver));
      total += batch.length;
      if (stopped || batch.length < settings.batchSize) return total;
    }
  }

  function drain(): Promise<number> {
    if (inFlight) return inFlight;
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
      metrics?.observeQueued(() => countQueuedWebhookDeliveries(pool));
      log.info({ owner, pollIntervalMs: settings.pollIntervalMs }, 'webhook dispatcher started');
      schedule(0);
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
        aborter.abort(new Error('the webhook dispatcher is stopping'));
        await running.catch(() => {});
      }
    },
  };
}
