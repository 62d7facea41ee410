import { isTracingEnabled } from '../../src/tracing/isTracingEnabled.ts';
import { type Measurement, measure } from '../lib/measure.ts';
import { startOtlpSink } from '../lib/otlpSink.ts';
import { startGatehouse, stopChild } from '../lib/processes.ts';
import type { WorkloadSpec } from '../lib/protocol.ts';
import { BENCH_PASSWORD } from '../lib/seed.ts';
import {
  firstInvalid,
  headline,
  medianRound,
  type Scenario,
  type ScenarioContext,
  type ScenarioResult,
  serverCpu,
  type Target,
} from './Scenario.ts';

const TITLE = 'ValidateToken, tracing on (100 % sampled, OTLP to a local sink)';
const BASELINE = 'ValidateToken, tracing off';
/** Reported, no target: the issue asks what tracing costs, not for a bound. */
const target: Target = { compare: 'throughput', atLeast: null };
/** Tokens of the ValidateToken workload (8 sessions, each validated over and over). */
const SESSIONS = 8;
const ROUNDS = 3;

type Workload = 'validate' | 'login';
type Setup = `${Workload}-${'off' | 'on'}`;
const LABELS: Record<Setup, string> = {
  'validate-off': BASELINE,
  'validate-on': TITLE,
  'login-off': 'Login, tracing off',
  'login-on': 'Login, tracing on',
};

/**
 * What tracing costs: a second Gatehouse on the same database and Redis with tracing on
 * (OTEL_TRACES_SAMPLER=always_on, the SDK's default batching, OTLP http/protobuf to a local
 * sink that counts what it gets) against the benchmark's untraced instance, under the same
 * load. Two workloads: ValidateToken over repeated tokens (one server span per call, mostly
 * answered from caches: the most tracing costs relative to the work) and Login (a server span
 * with its PostgreSQL and Redis spans). The setups take turns, in a different order each round,
 * and each is summarised by its median; server CPU per call is the number to read on a shared
 * machine.
 */
export const tracing: Scenario = {
  name: 'tracing',
  title: TITLE,
  baselineTitle: BASELINE,
  target,
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    if (isTracingEnabled(ctx.serverEnv)) {
      throw new Error('the benchmark environment sets an OTLP endpoint: the baseline would trace');
    }
    const tokens = (await ctx.seed.login(await ctx.seed.allocate(SESSIONS))).map(
      (t) => t.accessToken,
    );
    const identifiers = await ctx.seed.allocate(ctx.options.loginAccounts);
    const spec = (workload: Workload, address: string): WorkloadSpec =>
      workload === 'validate'
        ? { kind: 'validate-token', target: address, tokens }
        : { kind: 'login', target: address, identifiers, password: BENCH_PASSWORD };

    const sink = await startOtlpSink();
    ctx.log(`tracing: starting a gatehouse with tracing on, exporting to ${sink.url}`);
    const traced = await startGatehouse(
      {
        ...ctx.serverEnv,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: sink.url,
        OTEL_TRACES_SAMPLER: 'always_on',
        OTEL_SERVICE_NAME: 'gatehouse-bench',
      },
      { cpuProfDir: ctx.options.cpuProfDir, root: ctx.options.serverRoot },
    ).catch(async (error: unknown) => {
      await sink.stop();
      throw error;
    });
    const runs: Record<Setup, Measurement[]> = {
      'validate-off': [],
      'validate-on': [],
      'login-off': [],
      'login-on': [],
    };
    /** Spans the sink received per call of the traced measurements (warm-up calls included). */
    const spansPerCall: Record<Workload, number[]> = { validate: [], login: [] };
    const tracedRef = { name: 'gatehouse (traced)', pid: traced.pid, target: traced.target };
    try {
      ctx.log('tracing: warming up the traced instance (not measured)');
      await measure(ctx, 'traced instance warm-up', spec('validate', traced.target), null);
      await measure(ctx, 'traced instance warm-up', spec('login', traced.target), null);
      const rounds = ctx.options.smoke ? 1 : ROUNDS;
      for (let round = 0; round < rounds; round++) {
        const order: Setup[] =
          round % 2 === 0
            ? ['validate-off', 'validate-on', 'login-off', 'login-on']
            : ['login-on', 'login-off', 'validate-on', 'validate-off'];
        for (const setup of order) {
          const [workload, state] = setup.split('-') as [Workload, 'off' | 'on'];
          const label = `${LABELS[setup]} #${round + 1}`;
          ctx.log(`tracing: ${label}`);
          const server = state === 'on' ? tracedRef : ctx.gatehouse;
          const before = sink.counts().spans;
          const m = await measure(ctx, label, spec(workload, server.target), server);
          runs[setup].push(m);
          if (state === 'on') {
            // The exporter sends batches as they fill and every 5 s; the last partial batch of
            // this measurement may arrive during the next one, so this is approximate.
            const window = m.result.windowMs / (ctx.options.warmupMs + m.result.windowMs);
            const calls = m.result.ops / Math.max(window, 1e-9);
            spansPerCall[workload].push((sink.counts().spans - before) / Math.max(1, calls));
          }
        }
      }
    } finally {
      await stopChild(traced.child, 8000);
      await sink.stop();
    }

    const cpu = serverCpu;
    const medianOf = (setup: Setup) => medianRound(runs[setup]);
    const median = (xs: number[]) => {
      const s = xs.slice().sort((a, b) => a - b);
      return s[Math.floor((s.length - 1) / 2)] ?? Number.NaN;
    };
    const summary = (workload: Workload) => {
      const off = medianOf(`${workload}-off`);
      const on = medianOf(`${workload}-on`);
      const throughput = (setup: Setup) => median(runs[setup].map((m) => m.result.throughput));
      return {
        throughputOff: throughput(`${workload}-off`),
        throughputOn: throughput(`${workload}-on`),
        throughputRatio: throughput(`${workload}-on`) / throughput(`${workload}-off`),
        cpuMsPerOpOff: cpu(off),
        cpuMsPerOpOn: cpu(on),
        cpuRatio: cpu(on) / cpu(off),
        p50MsOff: headline(off).p50,
        p50MsOn: headline(on).p50,
        cpuMsPerOpOnRounds: runs[`${workload}-on`].map(cpu),
        cpuMsPerOpOffRounds: runs[`${workload}-off`].map(cpu),
        spansPerCall: median(spansPerCall[workload]),
      };
    };
    const baseline = medianOf('validate-off');
    const measured = medianOf('validate-on');
    const base: Omit<ScenarioResult, 'verdict' | 'ratio'> = {
      name: 'tracing',
      title: TITLE,
      baselineTitle: BASELINE,
      target,
      headline: headline(measured),
      baselineHeadline: headline(baseline),
      measured,
      baseline,
    };
    const invalid = firstInvalid(runs);
    if (invalid) return { ...base, verdict: 'ERROR', ratio: null, note: invalid };
    const validate = summary('validate');
    const login = summary('login');
    const f = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
    const row = (name: string, s: ReturnType<typeof summary>) =>
      `| ${name} | ${f(s.throughputOff, 0)} | ${f(s.throughputOn, 0)} | ${f(s.throughputRatio)}x | ${f(s.cpuMsPerOpOff, 3)} | ${f(s.cpuMsPerOpOn, 3)} | ${f(s.cpuRatio)}x | ${f(s.p50MsOff)} | ${f(s.p50MsOn)} | ${f(s.spansPerCall, 1)} |`;
    const text = [
      `Tracing overhead (medians of ${runs['validate-on'].length} rounds; on = 100 % sampled, OTLP http/protobuf to a local sink)`,
      '| workload | ops/s off | ops/s on | throughput on/off | server CPU ms/op off | on | CPU on/off | p50 ms off | on | spans per call |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      row('ValidateToken, repeated tokens', validate),
      row('Login', login),
    ].join('\n');
    const note = `server CPU per call on/off: ValidateToken ${f(validate.cpuRatio)}x, Login ${f(login.cpuRatio)}x; Login throughput on/off ${f(login.throughputRatio)}x`;
    ctx.log(`tracing: ${note}`);
    return {
      ...base,
      ratio: validate.throughputRatio,
      verdict: 'n/a',
      note,
      details: { text, data: { validateToken: validate, login } },
    };
  },
};
