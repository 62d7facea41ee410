import type { Config } from '../../src/config.ts';
import type { MeasureContext, Measurement } from '../lib/measure.ts';
import { measure } from '../lib/measure.ts';
import type { Options, ScenarioName } from '../lib/options.ts';
import type { WorkloadSpec } from '../lib/protocol.ts';
import type { Seeder } from '../lib/seed.ts';

export interface ServerRef {
  name: string;
  pid: number;
  target: string;
}

export interface ScenarioContext extends MeasureContext {
  options: Options;
  /** The server's configuration, from the same environment the server got. */
  config: Config;
  runId: string;
  seed: Seeder;
  gatehouse: ServerRef;
  /** The environment `gatehouse` was started with (for scenarios that start more instances). */
  serverEnv: Record<string, string>;
  emptyServer: ServerRef;
  log(message: string): void;
}

/**
 * A throughput ratio that must reach `atLeast` (null: reported, no target), a p50 latency
 * ratio that must stay under `atMost`, or a cost per operation (CPU) at a larger data set that
 * must stay under `atMost` times the cost at the smaller one.
 */
export type Target =
  | { compare: 'throughput'; atLeast: number | null }
  | { compare: 'p50 latency'; atMost: number }
  | { compare: 'cost growth'; atMost: number }
  | { compare: 'server CPU per op'; atMost: number };

export interface Headline {
  throughput: number;
  p50: number;
  p95: number;
  p99: number;
}

export interface ScenarioResult {
  name: ScenarioName;
  title: string;
  baselineTitle: string;
  target: Target;
  verdict: 'PASS' | 'MISS' | 'n/a' | 'ERROR';
  note?: string;
  headline: Headline | null;
  baselineHeadline: Headline | null;
  /** measured / baseline: throughput ratio, or p50 latency ratio for latency targets. */
  ratio: number | null;
  measured: Measurement | null;
  baseline: Measurement | null;
  /** A scenario's own table, printed after the main ones, and its figures for results.json. */
  details?: { text: string; data: unknown };
}

export interface Scenario {
  name: ScenarioName;
  title: string;
  baselineTitle: string;
  target: Target;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}

export function headline(m: Measurement, series = 'all'): Headline {
  const l = m.result.latency[series];
  const count = l?.count ?? 0;
  const all = m.result.latency.all?.count ?? 0;
  return {
    // A series' share of the window's operations (the others ran alongside it).
    throughput: all > 0 ? (m.result.throughput * count) / all : 0,
    p50: l?.p50 ?? 0,
    p95: l?.p95 ?? 0,
    p99: l?.p99 ?? 0,
  };
}

/** Why a measurement cannot be trusted (failed calls, stopped workers), or null. */
export function invalidReason(m: Measurement): string | null {
  const failed = Object.values(m.result.errors).reduce((a, b) => a + b, 0);
  if (m.result.ops === 0)
    return `${m.label}: no successful operation (${m.result.firstError ?? 'no error'})`;
  if (m.result.stoppedWorkers > 0) {
    return `${m.label}: ${m.result.stoppedWorkers} workers stopped (${m.result.firstError})`;
  }
  if (failed > m.result.ops * 0.01) {
    return `${m.label}: ${failed} failed calls (${m.result.firstError})`;
  }
  return null;
}

/** The first reason any of several rounds' measurements cannot be trusted, or undefined. */
export function firstInvalid(rounds: Record<string, Measurement[]>): string | undefined {
  for (const m of Object.values(rounds).flat()) {
    const reason = invalidReason(m);
    if (reason !== null) return reason;
  }
  return undefined;
}

/** Server CPU per operation of a measurement, NaN when /proc could not be read. */
export const serverCpu = (m: Measurement): number => m.cpuMsPerOp.server ?? Number.NaN;

/** The round with the median server CPU per operation (rounds run in alternating order). */
export function medianRound(rounds: Measurement[]): Measurement {
  const sorted = rounds.slice().sort((x, y) => serverCpu(x) - serverCpu(y));
  return sorted[Math.floor((sorted.length - 1) / 2)] as Measurement;
}

export function verdictOf(target: Target, ratio: number): 'PASS' | 'MISS' | 'n/a' {
  if (target.compare === 'throughput' && target.atLeast === null) return 'n/a';
  return target.compare === 'throughput'
    ? ratio >= (target.atLeast ?? 0)
      ? 'PASS'
      : 'MISS'
    : ratio <= target.atMost
      ? 'PASS'
      : 'MISS';
}

interface PairDefinition {
  name: ScenarioName;
  title: string;
  baselineTitle: string;
  /** The throughput ratio to reach; null where no target can be justified (reported only). */
  atLeast: number | null;
  /** Seeds what the scenario needs and says what both sides run. */
  prepare(ctx: ScenarioContext): Promise<{
    /** Or made once the baseline is known (e.g. sized from its throughput). */
    measured: WorkloadSpec | ((baseline: Measurement) => Promise<WorkloadSpec>);
    baseline: WorkloadSpec;
    /** The process the baseline runs against, if any (its RSS/CPU are reported). */
    baselineServer: ServerRef | null;
  }>;
  /** A caveat about the measurement to print with the results, if any. */
  caveat?(measured: Measurement): string | null;
}

/**
 * A throughput scenario: the baseline is measured right before the scenario, in the same run,
 * with the same load generator, concurrency, window and warm-up.
 */
export function pairScenario(def: PairDefinition): Scenario {
  const target: Target = { compare: 'throughput', atLeast: def.atLeast };
  return {
    name: def.name,
    title: def.title,
    baselineTitle: def.baselineTitle,
    target,
    async run(ctx) {
      const specs = await def.prepare(ctx);
      ctx.log(`${def.name}: baseline (${def.baselineTitle})`);
      const baseline = await measure(ctx, def.baselineTitle, specs.baseline, specs.baselineServer);
      const spec =
        typeof specs.measured === 'function' ? await specs.measured(baseline) : specs.measured;
      ctx.log(`${def.name}: ${def.title}`);
      const measured = await measure(ctx, def.title, spec, ctx.gatehouse);
      const base: Omit<ScenarioResult, 'verdict' | 'ratio'> = {
        name: def.name,
        title: def.title,
        baselineTitle: def.baselineTitle,
        target,
        headline: headline(measured),
        baselineHeadline: headline(baseline),
        measured,
        baseline,
      };
      const invalid = invalidReason(baseline) ?? invalidReason(measured);
      if (invalid) return { ...base, verdict: 'ERROR', ratio: null, note: invalid };
      const ratio = measured.result.throughput / baseline.result.throughput;
      const verdict = verdictOf(target, ratio);
      const note = def.caveat?.(measured) ?? (verdict === 'n/a' ? 'no target' : undefined);
      return { ...base, ratio, verdict, ...(note ? { note } : {}) };
    },
  };
}
