import type { Redis } from 'ioredis';
import {
  AuthServiceService,
  ValidateTokenRequest,
} from '../../src/gen/gatehouse/auth/v1/auth_service.ts';
import { EMPTY_RPC_PATH } from '../baselines/emptyServer.ts';
import { UnaryCaller } from '../lib/grpcUnary.ts';
import { type Measurement, measure } from '../lib/measure.ts';
import { startEmptyServer, startGatehouse, stopChild } from '../lib/processes.ts';
import { readProcessCpuMs } from '../lib/procfs.ts';
import {
  firstInvalid,
  headline,
  medianRound,
  type Scenario,
  type ScenarioContext,
  type ScenarioResult,
  serverCpu,
  type Target,
  verdictOf,
} from './Scenario.ts';

const TITLE = 'ValidateToken, two instances round-robin';
const BASELINE = 'ValidateToken, one instance';
const target: Target = { compare: 'server CPU per op', atMost: 1.1 };
/** Sessions whose access tokens are validated over and over (each instance caches them). */
const SESSIONS = 64;
/** Rounds of the four setups below. */
const ROUNDS = 3;
/** Gatehouse alone and as a pair; the bare grpc-js server alone and as a pair (the control). */
type Setup = 'one' | 'two' | 'bareOne' | 'bareTwo';
const LABELS: Record<Setup, string> = {
  one: BASELINE,
  two: TITLE,
  bareOne: 'empty unary RPC, one bare grpc-js server',
  bareTwo: 'empty unary RPC, two bare grpc-js servers round-robin',
};
/** Calls of the command census after each measurement (not timed). */
const CENSUS_CALLS = 2000;

/**
 * Redis commands on the run's keys per ValidateToken, by command, counted with MONITOR while
 * `calls` calls go to `target` (after the measurement, so its numbers do not pay for MONITOR).
 * What shows up here is all a call costs in Redis; cross-instance chatter would show as more
 * commands per call with two instances.
 */
async function redisCommandsPerCall(
  redis: Redis,
  keyPrefix: string,
  targetAddress: string,
  tokens: string[],
  calls: number,
): Promise<Record<string, number>> {
  // monitor() opens a connection of its own for MONITOR.
  const monitor = await redis.monitor();
  monitor.on('error', () => {});
  const counts: Record<string, number> = {};
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (!args.some((a) => a.includes(keyPrefix))) return;
    const name = (args[0] ?? '?').toUpperCase();
    counts[name] = (counts[name] ?? 0) + 1;
  });
  const caller = new UnaryCaller(targetAddress, 2);
  try {
    await caller.connect();
    const requests = tokens.map((t) =>
      Buffer.from(ValidateTokenRequest.encode({ accessToken: t }).finish()),
    );
    const path = AuthServiceService.validateToken.path;
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async (_, worker) => {
        while (next < calls) {
          const request = requests[next++ % requests.length] as Buffer;
          await caller.call(worker, path, request);
        }
      }),
    );
  } finally {
    caller.close();
  }
  // Redis runs commands one at a time and MONITOR reports them in that order: once a command
  // sent after the last reply shows up, every command of the calls has been counted.
  await new Promise<void>((resolve) => {
    const probe = `${keyPrefix}census-end`;
    monitor.on('monitor', (_t: string, args: string[]) => {
      if (args.includes(probe)) resolve();
    });
    void redis.exists(probe);
  });
  monitor.disconnect();
  return Object.fromEntries(
    Object.entries(counts)
      .filter(([name]) => name !== 'EXISTS')
      .map(([name, n]) => [name, Math.round((n / calls) * 1000) / 1000]),
  );
}

const censusText = (c: Record<string, number>) =>
  Object.entries(c)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, n]) => `${name} ${n}`)
    .join(', ') || 'none';

/**
 * Two Gatehouse processes on the same PostgreSQL database and Redis, ValidateToken sent
 * round-robin across both (grpc-js round_robin, per call), against the first instance alone
 * under the same load (same workers, channels, window): server CPU per operation, both
 * processes summed, must stay within 1.1x. The same comparison for the bare grpc-js server
 * (one vs two processes, empty RPC) is the control: what splitting a load over two processes
 * costs on this machine whatever the server does. Afterwards a MONITOR census of each setup
 * counts the Redis commands per call.
 */
export const twoInstances: Scenario = {
  name: 'two-instances',
  title: TITLE,
  baselineTitle: BASELINE,
  target,
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const keyPrefix = ctx.serverEnv.REDIS_KEY_PREFIX ?? '';
    const logins = await ctx.seed.login(await ctx.seed.allocate(SESSIONS));
    const tokens = logins.map((t) => t.accessToken);
    const validate = (address: string) =>
      ({ kind: 'validate-token', target: address, tokens }) as const;
    const empty = (address: string) =>
      ({ kind: 'grpc-empty', target: address, path: EMPTY_RPC_PATH }) as const;

    ctx.log('two-instances: starting a second gatehouse and a second bare grpc-js server');
    const second = await startGatehouse(ctx.serverEnv, {
      cpuProfDir: ctx.options.cpuProfDir,
      root: ctx.options.serverRoot,
    });
    const secondEmpty = await startEmptyServer().catch(async (error: unknown) => {
      await stopChild(second.child, 8000);
      throw error;
    });
    const both = `ipv4:${ctx.gatehouse.target},${second.target}`;
    const bothEmpty = `ipv4:${ctx.emptyServer.target},${secondEmpty.target}`;
    const runs: Record<Setup, Measurement[]> = { one: [], two: [], bareOne: [], bareTwo: [] };
    const shares: number[] = [];
    let oneCensus: Record<string, number>;
    let twoCensus: Record<string, number>;
    const pair = (name: string, a: number, b: number) => ({ name, pid: a, pids: [a, b] });
    const measureSetup = async (setup: Setup, round: number) => {
      const label = `${LABELS[setup]} #${round + 1}`;
      ctx.log(`two-instances: ${label}`);
      if (setup === 'two') {
        const before = [readProcessCpuMs(ctx.gatehouse.pid), readProcessCpuMs(second.pid)];
        const m = await measure(
          ctx,
          label,
          validate(both),
          pair('gatehouse x2', ctx.gatehouse.pid, second.pid),
        );
        const a = (readProcessCpuMs(ctx.gatehouse.pid) ?? 0) - (before[0] ?? 0);
        const b = (readProcessCpuMs(second.pid) ?? 0) - (before[1] ?? 0);
        shares.push(Math.round((b / Math.max(1, a + b)) * 100));
        runs.two.push(m);
      } else if (setup === 'one') {
        runs.one.push(await measure(ctx, label, validate(ctx.gatehouse.target), ctx.gatehouse));
      } else if (setup === 'bareOne') {
        runs.bareOne.push(
          await measure(ctx, label, empty(ctx.emptyServer.target), ctx.emptyServer),
        );
      } else {
        runs.bareTwo.push(
          await measure(
            ctx,
            label,
            empty(bothEmpty),
            pair('bare grpc-js x2', ctx.emptyServer.pid, secondEmpty.pid),
          ),
        );
      }
    };
    try {
      // The first instance has served the seeding (and maybe other scenarios): give the new one
      // as much work before anything is measured, so that neither runs on cold code.
      ctx.log('two-instances: warming up the second instances (not measured)');
      await measure(ctx, 'second instance warm-up', validate(second.target), null);
      await measure(ctx, 'second bare server warm-up', empty(secondEmpty.target), null);
      // On a shared machine CPU per operation drifts from one minute to the next: the setups
      // take turns, in a different order each round, and each is summarised by its median.
      const rounds = ctx.options.smoke ? 1 : ROUNDS;
      for (let round = 0; round < rounds; round++) {
        const order: Setup[] =
          round % 2 === 0
            ? ['one', 'two', 'bareOne', 'bareTwo']
            : ['bareTwo', 'bareOne', 'two', 'one'];
        for (const setup of order) await measureSetup(setup, round);
      }
      // The census is evidence beside the measurement: if MONITOR fails, say so, keep the numbers.
      const census = (address: string) =>
        redisCommandsPerCall(ctx.redis, keyPrefix, address, tokens, CENSUS_CALLS).catch(
          (error: unknown) => ({ [`census failed (${(error as Error).message})`]: 0 }),
        );
      oneCensus = await census(ctx.gatehouse.target);
      twoCensus = await census(both);
    } finally {
      await stopChild(secondEmpty.child, 2000);
      await stopChild(second.child, 8000);
    }

    const cpu = serverCpu;
    const medianOf = (setup: Setup) => medianRound(runs[setup]);
    const baseline = medianOf('one');
    const measured = medianOf('two');
    const list = (setup: Setup) => runs[setup].map((m) => cpu(m).toFixed(3)).join(', ');
    const census = `second instance's share of the pair's CPU ${shares.join('/')}%; Redis commands per call: one instance ${censusText(oneCensus)}; two instances ${censusText(twoCensus)}`;
    const base: Omit<ScenarioResult, 'verdict' | 'ratio'> = {
      name: 'two-instances',
      title: TITLE,
      baselineTitle: BASELINE,
      target,
      headline: headline(measured),
      baselineHeadline: headline(baseline),
      measured,
      baseline,
    };
    const invalid = firstInvalid(runs);
    const one = cpu(baseline);
    const two = cpu(measured);
    if (invalid || !Number.isFinite(one) || !Number.isFinite(two) || one === 0) {
      return {
        ...base,
        verdict: 'ERROR',
        ratio: null,
        note: invalid ?? 'server CPU could not be read from /proc',
      };
    }
    const ratio = two / one;
    const bareRatio = cpu(medianOf('bareTwo')) / cpu(medianOf('bareOne'));
    const note =
      `server CPU ms/op, median of ${runs.one.length} rounds (one instance ${list('one')}; two ${list('two')}; bare grpc-js one ${list('bareOne')}; bare two ${list('bareTwo')}); ` +
      `bare grpc-js pair/one ${bareRatio.toFixed(2)}x under the same load, so Gatehouse's own excess is ${(ratio / bareRatio).toFixed(2)}x; ${census}`;
    ctx.log(`two-instances: ratio ${ratio.toFixed(2)}; ${note}`);
    return { ...base, ratio, verdict: verdictOf(target, ratio), note };
  },
};
