import { pairScenario } from './Scenario.ts';

/**
 * ExchangeApiKey (the client-credentials grant): each call presents one of --api-keys service
 * account keys as its bearer credential and gets a freshly signed access token, which also
 * appends an `api_key_exchange` audit row. The baseline is that unavoidable work alone (the
 * server's own signing code and key, and the same INSERT through raw `pg`), so the ratio says
 * what gRPC, key authentication, the two rate-limit budgets and slonik cost on top of it.
 * Reported without a target: the issue sets none, and signing plus a synchronous audit write
 * dominate both sides.
 */
export const exchangeApiKey = pairScenario({
  name: 'exchange-api-key',
  title: 'ExchangeApiKey',
  baselineTitle: 'sign + audit INSERT, raw loop',
  atLeast: null,
  async prepare(ctx) {
    const keys = await ctx.seed.serviceAccountKeys(ctx.options.apiKeys);
    return {
      measured: {
        kind: 'exchange-api-key',
        target: ctx.gatehouse.target,
        secrets: keys.map((k) => k.secret),
      },
      baseline: {
        kind: 'sign-and-audit',
        databaseUrl: ctx.db.url,
        poolMax: ctx.config.database.poolMax,
        tokens: ctx.config.tokens,
        ttlSec: ctx.config.apiKeys.accessTokenTtlSec,
        claims: keys.map((k) => ({
          principalType: 'service_account' as const,
          subject: k.serviceAccountId,
          apiKeyId: k.apiKeyId,
          roles: k.roles,
        })),
      },
      baselineServer: null,
    };
  },
});
