import { randomUUID } from 'node:crypto';
import type { AuditScope } from '../admin/AuditScope.ts';
import { normalizeDescription } from '../admin/checkServiceAccountFields.ts';
import { parseUpdateMask } from '../admin/parseUpdateMask.ts';
import { checkId, requireId } from '../admin/requireUserId.ts';
import type { SecretBox } from '../auth/createSecretBox.ts';
import { isViolation } from '../auth/normalize.ts';
import {
  SUBSCRIBABLE_EVENT_TYPES,
  type WebhookDelivery,
  type WebhookDeliveryStatus,
  type WebhookEndpoint,
} from '../domain/Webhook.ts';
import { AppError, type FieldViolation, invalidArgument } from '../errors/AppError.ts';
import { checkStatusListRequest } from '../paging/checkListRequest.ts';
import {
  createdAtPage,
  keysetPage,
  type PageTokens,
  readTimeIdCursor,
} from '../paging/createPageTokens.ts';
import { pageSize } from '../paging/pageSize.ts';
import type { DatabasePool } from '../storage/createDatabase.ts';
import {
  findWebhookDeliveriesPage,
  getWebhookDelivery,
  replayWebhookDelivery,
} from '../storage/webhookDeliveries.ts';
import {
  deleteWebhookEndpoint,
  findWebhookEndpointsPage,
  getWebhookEndpointById,
  insertWebhookEndpoint,
  rotateWebhookEndpointSecret,
  type SealedSecret,
  updateWebhookEndpoint,
  type WebhookEndpointChanges,
} from '../storage/webhookEndpoints.ts';
import { queueWebhookEventFor } from '../storage/webhookEvents.ts';
import type { AddressPolicy } from './createAddressPolicy.ts';
import { generateWebhookSecret, webhookSecretOwner } from './webhookSecrets.ts';

export interface WebhookAdminDeps {
  pool: DatabasePool;
  pageTokens: PageTokens;
  /** Seals signing secrets; null in production without MFA_ENCRYPTION_KEY. */
  secretBox: SecretBox | null;
  addresses: AddressPolicy;
  /** How long a replaced secret keeps signing (WEBHOOK_SECRET_OVERLAP_HOURS). */
  secretOverlapSec: number;
}

export interface WebhookEndpointFields {
  url: string;
  eventTypes: string[];
  enabled: boolean;
  description: string;
}

const MAX_URL = 2048;
const STATUSES: readonly WebhookDeliveryStatus[] = ['pending', 'succeeded', 'failed', 'dead'];
const UPDATABLE_PATHS = ['url', 'event_types', 'enabled', 'description'] as const;

/** The WebhookAdminService use cases, bound to their dependencies. */
export interface WebhookAdminService {
  createEndpoint(
    audit: AuditScope,
    input: WebhookEndpointFields,
  ): Promise<{ endpoint: WebhookEndpoint; secret: string }>;
  getEndpoint(audit: AuditScope, id: string): Promise<WebhookEndpoint>;
  listEndpoints(input: {
    pageSize: number;
    pageToken: string;
  }): Promise<{ endpoints: WebhookEndpoint[]; nextPageToken: string }>;
  updateEndpoint(
    audit: AuditScope,
    input: {
      endpoint: ({ id: string } & WebhookEndpointFields) | undefined;
      paths: string[] | undefined;
    },
  ): Promise<WebhookEndpoint>;
  deleteEndpoint(audit: AuditScope, id: string): Promise<void>;
  rotateSecret(
    audit: AuditScope,
    id: string,
  ): Promise<{ endpoint: WebhookEndpoint; secret: string }>;
  listDeliveries(
    audit: AuditScope,
    input: { endpointId: string; status: string | null; pageSize: number; pageToken: string },
  ): Promise<{ deliveries: WebhookDelivery[]; nextPageToken: string }>;
  replayDelivery(
    audit: AuditScope,
    endpointId: string,
    deliveryId: string,
  ): Promise<WebhookDelivery>;
  sendTestEvent(audit: AuditScope, endpointId: string): Promise<WebhookDelivery>;
}

function secretsNotConfigured(): AppError {
  return new AppError(
    'WEBHOOK_SECRETS_NOT_CONFIGURED',
    'webhook signing secrets cannot be stored: set MFA_ENCRYPTION_KEY (they are sealed under it)',
  );
}

/** The url as stored, or its violation (WEBHOOK_URL_NOT_ALLOWED is thrown for a refused one). */
function checkUrl(deps: WebhookAdminDeps, raw: string, field: string): string | FieldViolation {
  const url = raw.trim();
  if (url === '') return { field, description: 'a URL is required', reason: 'REQUIRED' };
  if (url.length > MAX_URL) {
    return { field, description: `at most ${MAX_URL} characters`, reason: 'TOO_LONG' };
  }
  const problem = deps.addresses.checkUrl(url);
  if (problem === null) return url;
  if (problem === 'not an absolute URL') {
    return { field, description: 'must be an absolute https URL', reason: 'INVALID_FORMAT' };
  }
  throw new AppError('WEBHOOK_URL_NOT_ALLOWED', `${field}: ${problem}`, {
    fieldViolations: [{ field, description: problem, reason: 'NOT_ALLOWED' }],
  });
}

function checkEventTypes(types: readonly string[], field: string): string[] | FieldViolation {
  const unique = [...new Set(types.map((t) => t.trim()))];
  if (unique.length === 0) {
    return { field, description: 'name at least one event type', reason: 'REQUIRED' };
  }
  const unknown = unique.filter(
    (t) => !(SUBSCRIBABLE_EVENT_TYPES as readonly string[]).includes(t),
  );
  if (unknown.length > 0) {
    return {
      field,
      description: `unknown event type ${JSON.stringify(unknown[0]?.slice(0, 64))}; known: ${SUBSCRIBABLE_EVENT_TYPES.join(', ')}`,
      reason: 'INVALID_VALUE',
    };
  }
  return unique.sort();
}

function seal(
  deps: WebhookAdminDeps,
  endpointId: string,
): { secret: string; sealed: SealedSecret } {
  if (deps.secretBox === null) throw secretsNotConfigured();
  const secret = generateWebhookSecret();
  return {
    secret,
    sealed: {
      ciphertext: deps.secretBox.seal(secret, webhookSecretOwner(endpointId)),
      keyId: deps.secretBox.keyId,
    },
  };
}

const endpointIdOf = (id: string | undefined, field = 'webhook_endpoint_id') =>
  requireId(id, field, 'webhook endpoint');

export function createWebhookAdminService(deps: WebhookAdminDeps): WebhookAdminService {
  const noteEndpoint = (audit: AuditScope, id: string, details = {}) =>
    audit.note({ details: { webhook_endpoint_id: id, ...details } });

  return {
    async createEndpoint(audit, input) {
      const violations: FieldViolation[] = [];
      const url = checkUrl(deps, input.url, 'url');
      if (isViolation(url)) violations.push(url);
      const types = checkEventTypes(input.eventTypes, 'event_types');
      if (isViolation(types)) violations.push(types);
      const description = normalizeDescription(input.description, 'description');
      if (isViolation(description)) violations.push(description);
      if (
        violations.length > 0 ||
        isViolation(url) ||
        isViolation(types) ||
        isViolation(description)
      ) {
        throw invalidArgument(violations);
      }
      const id = randomUUID();
      const { secret, sealed } = seal(deps, id);
      noteEndpoint(audit, id);
      const endpoint = await audit.transaction((tx) =>
        insertWebhookEndpoint(tx, {
          id,
          url,
          eventTypes: types,
          enabled: input.enabled,
          description,
          secret: sealed,
        }),
      );
      return { endpoint, secret };
    },

    async getEndpoint(audit, rawId) {
      const id = endpointIdOf(rawId);
      noteEndpoint(audit, id);
      return getWebhookEndpointById(deps.pool, id);
    },

    async listEndpoints(input) {
      const limit = pageSize(input.pageSize);
      if (isViolation(limit)) throw invalidArgument([limit]);
      const { page, nextPageToken } = await createdAtPage(
        deps.pageTokens,
        'webhook_endpoints',
        [],
        input.pageToken,
        limit,
        (after, rows) => findWebhookEndpointsPage(deps.pool, after, rows),
      );
      return { endpoints: page.map((e) => e.endpoint), nextPageToken };
    },

    async updateEndpoint(audit, input) {
      const violations: FieldViolation[] = [];
      const id = checkId(input.endpoint?.id, 'endpoint.id', 'webhook endpoint');
      if (isViolation(id)) violations.push(id);
      const paths = parseUpdateMask(UPDATABLE_PATHS, input.paths, violations);
      const e = input.endpoint;
      const changes: WebhookEndpointChanges = {};
      if (e && paths.has('url')) {
        const url = checkUrl(deps, e.url, 'endpoint.url');
        if (isViolation(url)) violations.push(url);
        else changes.url = url;
      }
      if (e && paths.has('event_types')) {
        const types = checkEventTypes(e.eventTypes, 'endpoint.event_types');
        if (isViolation(types)) violations.push(types);
        else changes.eventTypes = types;
      }
      if (e && paths.has('enabled')) changes.enabled = e.enabled;
      if (e && paths.has('description')) {
        const text = normalizeDescription(e.description, 'endpoint.description');
        if (isViolation(text)) violations.push(text);
        else changes.description = text;
      }
      if (violations.length > 0 || isViolation(id)) throw invalidArgument(violations);
      noteEndpoint(audit, id, { fields: [...paths].sort().join(',') });
      return audit.transaction((tx) => updateWebhookEndpoint(tx, id, changes));
    },

    async deleteEndpoint(audit, rawId) {
      const id = endpointIdOf(rawId);
      noteEndpoint(audit, id);
      await audit.transaction((tx) => deleteWebhookEndpoint(tx, id));
    },

    async rotateSecret(audit, rawId) {
      const id = endpointIdOf(rawId);
      noteEndpoint(audit, id);
      const { secret, sealed } = seal(deps, id);
      const endpoint = await audit.transaction(async (tx) => {
        const rotated = await rotateWebhookEndpointSecret(tx, id, sealed, deps.secretOverlapSec);
        audit.note({
          details: {
            previous_secret_expires_at: rotated.previousSecretExpiresAt?.toISOString() ?? null,
          },
        });
        return rotated;
      });
      return { endpoint, secret };
    },

    async listDeliveries(audit, input) {
      const violations: FieldViolation[] = [];
      const id = checkId(input.endpointId, 'webhook_endpoint_id', 'webhook endpoint');
      if (isViolation(id)) violations.push(id);
      let checked: { limit: number; status: WebhookDeliveryStatus | null } | undefined;
      try {
        checked = checkStatusListRequest(input, STATUSES);
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        violations.push(...error.fieldViolations);
      }
      if (violations.length > 0 || isViolation(id) || checked === undefined) {
        throw invalidArgument(violations);
      }
      noteEndpoint(audit, id);
      const { limit, status } = checked;
      const filter = [id, status];
      const cursor = await readTimeIdCursor(
        deps.pageTokens,
        'webhook_deliveries',
        filter,
        input.pageToken,
      );
      await getWebhookEndpointById(deps.pool, id);
      const rows = await findWebhookDeliveriesPage(
        deps.pool,
        id,
        status,
        cursor && { createdAt: cursor.time, id: cursor.id },
        limit + 1,
      );
      const { page, nextPageToken } = await keysetPage(
        deps.pageTokens,
        'webhook_deliveries',
        filter,
        rows,
        limit,
        (last) => [last.cursor.createdAt, last.cursor.id],
      );
      return { deliveries: page.map((r) => r.delivery), nextPageToken };
    },

    async replayDelivery(audit, rawEndpointId, rawDeliveryId) {
      const violations: FieldViolation[] = [];
      const endpointId = checkId(rawEndpointId, 'webhook_endpoint_id', 'webhook endpoint');
      if (isViolation(endpointId)) violations.push(endpointId);
      const deliveryId = checkId(rawDeliveryId, 'webhook_delivery_id', 'webhook delivery');
      if (isViolation(deliveryId)) violations.push(deliveryId);
      if (isViolation(endpointId) || isViolation(deliveryId)) throw invalidArgument(violations);
      noteEndpoint(audit, endpointId, { webhook_delivery_id: deliveryId });
      return audit.transaction(async (tx) => {
        await getWebhookEndpointById(tx, endpointId);
        return replayWebhookDelivery(tx, endpointId, deliveryId);
      });
    },

    async sendTestEvent(audit, rawId) {
      const id = endpointIdOf(rawId);
      noteEndpoint(audit, id);
      return audit.transaction(async (tx) => {
        await getWebhookEndpointById(tx, id, { forUpdate: true });
        const deliveryId = await queueWebhookEventFor(tx, id, 'webhook.test', {
          webhook_endpoint_id: id,
        });
        const delivery = await getWebhookDelivery(tx, id, deliveryId);
        audit.note({ details: { webhook_event_id: delivery.eventId } });
        return delivery;
      });
    },
  };
}
