import type { ApiKeyService } from '../apiKeys/createApiKeyService.ts';
import type { ApiKeyServiceServer } from '../gen/gatehouse/auth/v1/api_key_service.ts';
import type { Duration } from '../gen/google/protobuf/duration.ts';
import type { UnaryHandlers } from './bindService.ts';
import { apiKeyToProto } from './toProto.ts';

/** A google.protobuf.Duration in milliseconds (unset: 0); NaN for one that is not valid. */
function durationMs(d: Duration | undefined): number {
  if (d === undefined) return 0;
  const seconds = Number(d.seconds);
  // Seconds and nanos must agree in sign; nanos are below one second.
  const valid =
    Number.isSafeInteger(seconds) &&
    Math.abs(d.nanos) < 1e9 &&
    !(seconds > 0 && d.nanos < 0) &&
    !(seconds < 0 && d.nanos > 0);
  return valid ? seconds * 1000 + d.nanos / 1e6 : Number.NaN;
}

/**
 * ApiKeyService transport: translates messages to use-case calls and back. Who may call (a
 * session, or for the reads and revocation the user's own key) and the audit event of the
 * state changes are each RPC's call policy; the caller's principal says whose keys they are.
 */
export function createApiKeyHandlers(service: ApiKeyService): UnaryHandlers<ApiKeyServiceServer> {
  return {
    async createApiKey(req, ctx) {
      const created = await service.createApiKey(ctx.audit, ctx.principal, {
        displayName: req.displayName,
        roles: req.roles,
        expiresAt: req.expireTime ?? null,
      });
      return { apiKey: apiKeyToProto(created.apiKey), secret: created.secret };
    },
    async listApiKeys(req, ctx) {
      const page = await service.listApiKeys(ctx.principal, {
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      });
      return { apiKeys: page.apiKeys.map(apiKeyToProto), nextPageToken: page.nextPageToken };
    },
    async getApiKey(req, ctx) {
      return { apiKey: apiKeyToProto(await service.getApiKey(ctx.principal, req.apiKeyId)) };
    },
    async revokeApiKey(req, ctx) {
      const revoked = await service.revokeApiKey(ctx.audit, ctx.principal, req.apiKeyId);
      return { apiKey: apiKeyToProto(revoked) };
    },
    async rotateApiKey(req, ctx) {
      const rotated = await service.rotateApiKey(ctx.audit, ctx.principal, {
        apiKeyId: req.apiKeyId,
        overlapMs: durationMs(req.overlap),
        expiresAt: req.expireTime ?? null,
      });
      return { apiKey: apiKeyToProto(rotated.apiKey), secret: rotated.secret };
    },
  };
}
