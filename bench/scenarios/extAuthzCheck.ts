import { EMPTY_RPC_PATH } from '../baselines/emptyServer.ts';
import { pairScenario } from './Scenario.ts';

/**
 * Envoy's ext_authz Authorization/Check, the gateway case: a service account presenting its
 * API key (holding `gateway:check`) asks about HTTP requests carrying one of --repeated-tokens
 * users' access tokens (8; from Login), in turn, over and over. Per call the server
 * authenticates the gateway's key (checksum, SHA-256, key-state cache; no per-key budget),
 * checks gateway:check in the permission cache, resolves the checked token like ValidateToken
 * (verified-token cache, session cache) and builds the identity headers. Every answer must be
 * an OK response with the user's id, or the call counts as an error.
 */
export const extAuthzCheck = pairScenario({
  name: 'ext-authz-check',
  title: 'Envoy ext_authz Check, repeated tokens',
  baselineTitle: 'empty unary RPC, bare grpc-js server',
  atLeast: 0.5,
  async prepare(ctx) {
    const gatewayKey = await ctx.seed.serviceAccountKeyWith('bench-gateway', 'gateway:check');
    const logins = await ctx.seed.login(await ctx.seed.allocate(ctx.options.repeatedTokens));
    return {
      measured: {
        kind: 'ext-authz-check',
        target: ctx.gatehouse.target,
        gatewayKey,
        tokens: logins.map((t) => t.accessToken),
      },
      baseline: { kind: 'grpc-empty', target: ctx.emptyServer.target, path: EMPTY_RPC_PATH },
      baselineServer: ctx.emptyServer,
    };
  },
});
