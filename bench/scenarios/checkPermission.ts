import { EMPTY_RPC_PATH } from '../baselines/emptyServer.ts';
import { pairScenario } from './Scenario.ts';

/**
 * AuthorizationService.CheckPermission by subject, the resource-server case of "may this user
 * do X in this organisation": --subjects members of one organisation asked about in turn, over
 * and over (repeated subjects), by a service account presenting its API key. Per call the
 * server authenticates the key (checksum, SHA-256, key-state cache), spends the key's rate-limit
 * budget in Redis, checks the caller holds `authz:check`, and decides from the permission cache
 * (one PostgreSQL read per subject every AUTHZ_CACHE_TTL_MS, and on every change).
 */
export const checkPermission = pairScenario({
  name: 'check-permission',
  title: 'CheckPermission, repeated subjects',
  baselineTitle: 'empty unary RPC, bare grpc-js server',
  atLeast: 0.5,
  async prepare(ctx) {
    const { credential, checks } = await ctx.seed.permissionSubjects(ctx.options.authzSubjects);
    return {
      measured: { kind: 'check-permission', target: ctx.gatehouse.target, credential, checks },
      baseline: { kind: 'grpc-empty', target: ctx.emptyServer.target, path: EMPTY_RPC_PATH },
      baselineServer: ctx.emptyServer,
    };
  },
});
