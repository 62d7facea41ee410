import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { envBool } from '../envBool.ts';
import { int, list } from './envFields.ts';

/**
 * Signed webhooks (docs/webhooks.md): where deliveries may go (WEBHOOK_ALLOW_HTTP,
 * WEBHOOK_ALLOW_PRIVATE_NETWORKS, WEBHOOK_ALLOWED_CIDRS), how long an attempt may take, how
 * failures are retried, how long a rotated secret keeps signing, and how long finished
 * deliveries are kept (WEBHOOK_RETENTION_DAYS).
 */
export const webhookEnvShape = {
  WEBHOOK_ALLOW_HTTP: envBool.default(false),
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: envBool.default(false),
  WEBHOOK_ALLOWED_CIDRS: list.pipe(
    z.array(
      z.string().refine((v) => ipaddr.isValidCIDR(v), {
        message: 'must be CIDR ranges, comma-separated (e.g. 10.20.0.0/16,fd00:1::/64)',
      }),
    ),
  ),
  WEBHOOK_TIMEOUT_MS: int(5000, 100, 30_000),
  WEBHOOK_RETRY_PERIOD_HOURS: int(24, 1, 24 * 30),
  WEBHOOK_MAX_ATTEMPTS: int(30, 1, 1000),
  WEBHOOK_RETRY_BASE_MS: int(5000, 10, 3_600_000),
  WEBHOOK_RETRY_MAX_MS: int(3_600_000, 10, 86_400_000),
  WEBHOOK_SECRET_OVERLAP_HOURS: int(24, 0, 24 * 30),
  WEBHOOK_POLL_INTERVAL_MS: int(1000, 10, 60_000),
  WEBHOOK_BATCH_SIZE: int(20, 1, 500),
  WEBHOOK_RETENTION_DAYS: int(30, 1, 3650),
};

type WebhookEnv = z.infer<z.ZodObject<typeof webhookEnvShape>>;

/** Which targets deliveries may reach. */
export interface WebhookAddressRules {
  /** http:// URLs are accepted (development and tests); otherwise https only. */
  allowHttp: boolean;
  /** Loopback, private, link-local and other non-public addresses are reachable too. */
  allowPrivateNetworks: boolean;
  /** Non-public ranges reachable nevertheless (CIDR strings). */
  allowedCidrs: readonly string[];
}

export interface WebhookConfig {
  addresses: WebhookAddressRules;
  /** One attempt's limit: connect, send, and the receiver's answer. */
  timeoutMs: number;
  /** Retries stop this long after an event was queued (or replayed): the delivery is dead. */
  retryPeriodSec: number;
  /** ...or after this many attempts. */
  maxAttempts: number;
  /** Backoff after the n-th failure: min(max, base * 2^(n-1)), jittered to [half, whole]. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** How long the secret a rotation replaced keeps signing too. */
  secretOverlapSec: number;
  pollIntervalMs: number;
  batchSize: number;
  /** Finished deliveries (and their events) are pruned by the cleanup runner after this. */
  retentionDays: number;
}

export function toWebhookConfig(e: WebhookEnv): WebhookConfig {
  return {
    addresses: {
      allowHttp: e.WEBHOOK_ALLOW_HTTP,
      allowPrivateNetworks: e.WEBHOOK_ALLOW_PRIVATE_NETWORKS,
      allowedCidrs: e.WEBHOOK_ALLOWED_CIDRS,
    },
    timeoutMs: e.WEBHOOK_TIMEOUT_MS,
    retryPeriodSec: e.WEBHOOK_RETRY_PERIOD_HOURS * 3600,
    maxAttempts: e.WEBHOOK_MAX_ATTEMPTS,
    retryBaseMs: e.WEBHOOK_RETRY_BASE_MS,
    retryMaxMs: Math.max(e.WEBHOOK_RETRY_BASE_MS, e.WEBHOOK_RETRY_MAX_MS),
    secretOverlapSec: e.WEBHOOK_SECRET_OVERLAP_HOURS * 3600,
    pollIntervalMs: e.WEBHOOK_POLL_INTERVAL_MS,
    batchSize: e.WEBHOOK_BATCH_SIZE,
    retentionDays: e.WEBHOOK_RETENTION_DAYS,
  };
}
