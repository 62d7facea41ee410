import { BENCH_PASSWORD } from '../lib/seed.ts';
import { pairScenario } from './Scenario.ts';

/**
 * Login over --login-accounts seeded accounts (round robin, so concurrent logins rarely touch the
 * same user row) against argon2.verify of the same hash in a loop: same parameters (the server's
 * config), same libuv threadpool size, same concurrency.
 */
export const login = pairScenario({
  name: 'login',
  title: 'Login',
  baselineTitle: 'raw argon2 verify loop',
  // Issue 17's target (issue 8 had set 0.85).
  atLeast: 0.9,
  async prepare(ctx) {
    const identifiers = await ctx.seed.allocate(ctx.options.loginAccounts);
    return {
      measured: {
        kind: 'login',
        target: ctx.gatehouse.target,
        identifiers,
        password: BENCH_PASSWORD,
      },
      baseline: {
        kind: 'argon2-verify',
        hash: await ctx.seed.passwordHash(),
        password: BENCH_PASSWORD,
      },
      baselineServer: null,
    };
  },
});

/** Register with a new address per call against argon2.hash with the same parameters in a loop. */
export const register = pairScenario({
  name: 'register',
  title: 'Register',
  baselineTitle: 'raw argon2 hash loop',
  // Issue 17's target (issue 8 had set 0.8).
  atLeast: 0.9,
  async prepare(ctx) {
    return {
      measured: {
        kind: 'register',
        target: ctx.gatehouse.target,
        emailPrefix: `bench-reg-${ctx.runId}`,
        password: BENCH_PASSWORD,
      },
      baseline: {
        kind: 'argon2-hash',
        params: ctx.config.passwords.argon2,
        password: BENCH_PASSWORD,
      },
      baselineServer: null,
    };
  },
});
