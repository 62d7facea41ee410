import { EMPTY_RPC_PATH } from '../baselines/emptyServer.ts';
import { pairScenario, type ScenarioContext } from './Scenario.ts';

const BASELINE = 'empty unary RPC, bare grpc-js server';

const emptyRpc = (ctx: ScenarioContext) => ({
  baseline: { kind: 'grpc-empty', target: ctx.emptyServer.target, path: EMPTY_RPC_PATH } as const,
  baselineServer: ctx.emptyServer,
});

/**
 * ValidateToken where every call presents a token not seen before in the run (--tokens of them,
 * over --sessions live sessions), so no per-token cache can answer: full signature verification
 * every time. Session state is shared by ~tokens/sessions tokens, as with real clients.
 */
export const validateDistinct = pairScenario({
  name: 'validate-distinct',
  title: 'ValidateToken, distinct tokens',
  baselineTitle: BASELINE,
  atLeast: 0.5,
  async prepare(ctx) {
    return {
      // Gatehouse cannot answer faster than the bare server: the baseline's rate over warm-up +
      // window (+10%) is enough tokens never to present one twice.
      measured: async (baseline) => {
        const seconds = (ctx.options.warmupMs + ctx.options.durationMs) / 1000;
        const count =
          ctx.options.distinctTokens ??
          Math.max(1000, Math.ceil(baseline.result.throughput * seconds * 1.1));
        ctx.log(`validate-distinct: minting ${count} access tokens`);
        const tokens = await ctx.seed.mintAccessTokens(count, ctx.options.distinctSessions);
        return { kind: 'validate-token', target: ctx.gatehouse.target, tokens };
      },
      ...emptyRpc(ctx),
    };
  },
  caveat(measured) {
    const reused = measured.result.stats.callsReusingAToken ?? 0;
    return reused > 0
      ? `${reused} calls had to present a token again (all ${measured.result.stats.tokens} used up): a per-token cache may have answered them; raise --tokens`
      : null;
  },
});

/** ValidateToken over a small hot set of tokens (8 sessions), each validated over and over. */
export const validateRepeated = pairScenario({
  name: 'validate-repeated',
  title: 'ValidateToken, repeated tokens',
  baselineTitle: BASELINE,
  // Issue 17's target (issue 8 had set 0.8).
  atLeast: 0.9,
  async prepare(ctx) {
    const logins = await ctx.seed.login(await ctx.seed.allocate(ctx.options.repeatedTokens));
    return {
      measured: {
        kind: 'validate-token',
        target: ctx.gatehouse.target,
        tokens: logins.map((t) => t.accessToken),
      },
      ...emptyRpc(ctx),
    };
  },
});

/**
 * ValidateToken with API key secrets instead of access tokens (the resource-server case for
 * machine callers): --api-keys service accounts with one key each, made through the admin
 * CLI's use case, presented in turn over and over. No signature to verify: the checksum, one
 * SHA-256 and the key-state cache, which reads PostgreSQL again for each key every
 * API_KEY_CACHE_TTL_MS (so revocation reaches every instance within a second).
 */
export const validateApiKey = pairScenario({
  name: 'validate-api-key',
  title: 'ValidateToken, API key',
  baselineTitle: BASELINE,
  atLeast: 0.5,
  async prepare(ctx) {
    const keys = await ctx.seed.serviceAccountKeys(ctx.options.apiKeys);
    return {
      measured: {
        kind: 'validate-token',
        target: ctx.gatehouse.target,
        tokens: keys.map((k) => k.secret),
      },
      ...emptyRpc(ctx),
    };
  },
});
