import { pairScenario } from './Scenario.ts';

/**
 * Refresh: each worker rotates its own session's refresh token (chains made by Login), against
 * the same SQL transaction through raw `pg` (bench/baselines/pgRefresh.ts) with the server's
 * pool size, each worker on its own session inserted directly.
 */
export const refresh = pairScenario({
  name: 'refresh',
  title: 'Refresh',
  baselineTitle: 'same SQL transaction, raw pg',
  atLeast: 0.6,
  async prepare(ctx) {
    const logins = await ctx.seed.login(await ctx.seed.allocate(ctx.concurrency));
    const chains = await ctx.seed.pgRefreshChains(ctx.concurrency);
    return {
      measured: {
        kind: 'refresh',
        target: ctx.gatehouse.target,
        refreshTokens: logins.map((t) => t.refreshToken),
      },
      baseline: {
        kind: 'pg-refresh',
        databaseUrl: ctx.db.url,
        poolMax: ctx.config.database.poolMax,
        sessionIdleSec: ctx.config.tokens.sessionIdleSec,
        chains,
      },
      baselineServer: null,
    };
  },
});
