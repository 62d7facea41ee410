import type { Redis } from 'ioredis';
import {
  AuthServiceService,
  ValidateTokenRequest,
} from '../../src/gen/gatehouse/auth/v1/auth_service.ts';
import { UnaryCaller } from '../lib/grpcUnary.ts';
import { type Measurement, measure } from '../lib/measure.ts';
import { startGatehouse, stopChild } from '../lib/processes.ts';
import { readProcessCpuMs } from '../lib/procfs.ts';
import {
  headline,
  invalidReason,
  type Scenario,
  type ScenarioContext,
  type ScenarioResult,
  type Target,
  verdictOf,
} from './Scenario.ts';

const TITLE = 'ValidateToken, two instances round-robin';
const BASELINE = 'ValidateToken, one instance';
const target: Target = { compare: 'server CPU per op', atMost: 1.1 };
/** Sessions whose access tokens are validated over and over (each instance caches them). */
const SESSIONS = 64;
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
  const monitor = await redis.duplicate().monitor();
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
 * round-robin across both (grpc-js round_robin, per call), against the running instance alone
 * under the same load: server CPU per operation, both processes summed, must stay within 1.1x.
 * Afterwards a MONITOR census of each setup shows the Redis commands per call.
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

    ctx.log('two-instances: starting a second gatehouse on the same database and Redis');
    const second = await startGatehouse(ctx.serverEnv, {
      cpuProfDir: ctx.options.cpuProfDir,
      root: ctx.options.serverRoot,
    });
    const both = `ipv4:${ctx.gatehouse.target},${second.target}`;
    let baseline: Measurement;
    let again: Measurement;
    let half: Measurement;
    let measured: Measurement;
    let oneCensus: Record<string, number>;
    let twoCensus: Record<string, number>;
    let secondShare = 0;
    try {
      // The first instance has served the seeding (and maybe other scenarios): give the new one
      // as much work before anything is measured, so that neither runs on cold code.
      ctx.log('two-instances: warming up the second instance (not measured)');
      await measure(ctx, 'second instance warm-up', validate(second.target), null);
      // One, two, one: the two single-instance runs bracket the pair, so drift on a shared
      // machine shows as a difference between them instead of hiding in the ratio.
      ctx.log(`two-instances: ${BASELINE}`);
      baseline = await measure(ctx, BASELINE, validate(ctx.gatehouse.target), ctx.gatehouse);
      ctx.log(`two-instances: ${TITLE}`);
      const before = [readProcessCpuMs(ctx.gatehouse.pid) ?? 0, readProcessCpuMs(second.pid) ?? 0];
      measured = await measure(ctx, TITLE, validate(both), {
        name: 'gatehouse x2',
        pid: ctx.gatehouse.pid,
        pids: [ctx.gatehouse.pid, second.pid],
      });
      const used = [
        (readProcessCpuMs(ctx.gatehouse.pid) ?? 0) - (before[0] ?? 0),
        (readProcessCpuMs(second.pid) ?? 0) - (before[1] ?? 0),
      ];
      // Round-robin really spread the calls: the second instance's share of the CPU.
      secondShare = Math.round(
        ((used[1] ?? 0) / Math.max(1, (used[0] ?? 0) + (used[1] ?? 0))) * 100,
      );
      ctx.log(`two-instances: ${BASELINE} again`);
      again = await measure(
        ctx,
        `${BASELINE} (again)`,
        validate(ctx.gatehouse.target),
        ctx.gatehouse,
      );
      // What each of the two saw: half the workers. Against this, the pair differs only by
      // what having two processes costs (chatter, duplicated background work), not by batching.
      const halfWorkers = Math.max(1, Math.floor(ctx.concurrency / 2));
      ctx.log(`two-instances: one instance, ${halfWorkers} workers`);
      half = await measure(
        ctx,
        `one instance, ${halfWorkers} workers`,
        validate(ctx.gatehouse.target),
        ctx.gatehouse,
        { concurrency: halfWorkers },
      );
      oneCensus = await redisCommandsPerCall(
        ctx.redis,
        keyPrefix,
        ctx.gatehouse.target,
        tokens,
        CENSUS_CALLS,
      );
      twoCensus = await redisCommandsPerCall(ctx.redis, keyPrefix, both, tokens, CENSUS_CALLS);
    } finally {
      await stopChild(second.child, 8000);
    }

    const census = `second instance's share of the CPU ${secondShare}%; Redis commands per call: one instance ${censusText(oneCensus)}; two instances ${censusText(twoCensus)}`;
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
    const invalid = invalidReason(baseline) ?? invalidReason(measured) ?? invalidReason(again);
    const first = baseline.cpuMsPerOp.server;
    const last = again.cpuMsPerOp.server;
    const two = measured.cpuMsPerOp.server;
    if (invalid || first === null || last === null || two === null || first + last === 0) {
      return {
        ...base,
        verdict: 'ERROR',
        ratio: null,
        note: invalid ?? 'server CPU could not be read from /proc',
      };
    }
    const one = (first + last) / 2;
    const ratio = two / one;
    const halfCpu = half.cpuMsPerOp.server;
    const halfText =
      halfCpu === null
        ? ''
        : `; one instance at half the workers (each instance's share) ${halfCpu.toFixed(3)} (${half.result.throughput.toFixed(0)} ops/s), pair/that ${(two / halfCpu).toFixed(2)}`;
    const note = `server CPU ms/op: one instance ${first.toFixed(3)} before and ${last.toFixed(3)} after (${baseline.result.throughput.toFixed(0)} / ${again.result.throughput.toFixed(0)} ops/s), two instances ${two.toFixed(3)} (ratio against the mean of the two)${halfText}; ${census}`;
    ctx.log(`two-instances: ratio ${ratio.toFixed(2)}; ${note}`);
    return { ...base, ratio, verdict: verdictOf(target, ratio), note };
  },
};
