import { pairScenario } from './Scenario.ts';

/**
 * @gatehouse/verifier's verify() next to ValidateToken, over the same small hot set of tokens
 * (the resource-server case): verify() runs in the load generator's process, on its one event
 * loop, against the signature, claims and revocation deny-list it keeps locally; ValidateToken
 * is a round trip to Gatehouse per call. Both with the same concurrency and window. The target
 * is an order of magnitude: local verification exists to take the round trip out.
 */
export const verify = pairScenario({
  name: 'verify',
  title: 'verifier verify(), repeated tokens',
  baselineTitle: 'ValidateToken, same tokens',
  atLeast: 10,
  async prepare(ctx) {
    const logins = await ctx.seed.login(await ctx.seed.allocate(ctx.options.repeatedTokens));
    const tokens = logins.map((t) => t.accessToken);
    const watcherKey = await ctx.seed.serviceAccountKeyWith(
      'bench-revocation-watcher',
      'revocations:watch',
    );
    return {
      measured: { kind: 'verifier-verify', target: ctx.gatehouse.target, watcherKey, tokens },
      baseline: { kind: 'validate-token', target: ctx.gatehouse.target, tokens },
      baselineServer: ctx.gatehouse,
    };
  },
});
