import type { WebhookAdminServiceServer } from '../gen/gatehouse/admin/v1/webhook_admin_service.ts';
import type { WebhookAdminService } from '../webhooks/createWebhookAdminService.ts';
import type { UnaryHandlers } from './bindService.ts';
import {
  webhookDeliveryToProto as delivery,
  webhookEndpointToProto as endpoint,
} from './toProto.ts';

// WebhookDeliveryStatus -> ListWebhookDeliveries status filter; UNSPECIFIED (0): every status.
const STATUS_FILTER: Record<number, string | null> = {
  0: null,
  1: 'pending',
  2: 'succeeded',
  3: 'failed',
  4: 'dead',
};

/**
 * WebhookAdminService transport: messages to use-case calls and back. The admin role, the
 * per-source budget and the one audit event per call are each RPC's call policy.
 */
export function createWebhookAdminHandlers(
  service: WebhookAdminService,
): UnaryHandlers<WebhookAdminServiceServer> {
  return {
    async createWebhookEndpoint(req, ctx) {
      const created = await service.createEndpoint(ctx.audit, {
        url: req.url,
        eventTypes: req.eventTypes,
        enabled: req.enabled,
        description: req.description,
      });
      return { endpoint: endpoint(created.endpoint), secret: created.secret };
    },
    async getWebhookEndpoint(req, ctx) {
      return { endpoint: endpoint(await service.getEndpoint(ctx.audit, req.webhookEndpointId)) };
    },
    async listWebhookEndpoints(req) {
      const page = await service.listEndpoints({
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      });
      return { endpoints: page.endpoints.map(endpoint), nextPageToken: page.nextPageToken };
    },
    async updateWebhookEndpoint(req, ctx) {
      const updated = await service.updateEndpoint(ctx.audit, {
        endpoint: req.endpoint,
        paths: req.updateMask,
      });
      return { endpoint: endpoint(updated) };
    },
    async deleteWebhookEndpoint(req, ctx) {
      await service.deleteEndpoint(ctx.audit, req.webhookEndpointId);
      return {};
    },
    async rotateWebhookSecret(req, ctx) {
      const rotated = await service.rotateSecret(ctx.audit, req.webhookEndpointId);
      return { endpoint: endpoint(rotated.endpoint), secret: rotated.secret };
    },
    async listWebhookDeliveries(req, ctx) {
      const page = await service.listDeliveries(ctx.audit, {
        endpointId: req.webhookEndpointId,
        status: req.status in STATUS_FILTER ? (STATUS_FILTER[req.status] ?? null) : `${req.status}`,
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      });
      return { deliveries: page.deliveries.map(delivery), nextPageToken: page.nextPageToken };
    },
    async replayWebhookDelivery(req, ctx) {
      const replayed = await service.replayDelivery(
        ctx.audit,
        req.webhookEndpointId,
        req.webhookDeliveryId,
      );
      return { delivery: delivery(replayed) };
    },
    async sendTestWebhookEvent(req, ctx) {
      return { delivery: delivery(await service.sendTestEvent(ctx.audit, req.webhookEndpointId)) };
    },
  };
}
