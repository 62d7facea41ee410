import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import type { Headline, ScenarioResult, Target } from '../scenarios/Scenario.ts';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGb: number;
  kernel: string;
  node: string;
  postgres: string;
  redis: string;
  /** 1/5/15-minute load average when the run started (how busy the machine already was). */
  loadAverageAtStart: number[];
}

export function machineInfo(postgres: string, redis: string): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) cpuModel = m[1].trim();
  } catch {
    // keep os.cpus()
  }
  return {
    cpuModel,
    cores: cpus().length,
    memoryGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    kernel: release(),
    node: process.version,
    postgres,
    redis,
    loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

export function targetText(t: Target): string {
  if (t.compare !== 'throughput') return `<= ${t.atMost}x`;
  return t.atLeast === null ? 'none' : `>= ${t.atLeast}`;
}

function ratioText(r: ScenarioResult): string {
  if (r.ratio === null) return '-';
  return r.target.compare === 'throughput' ? r.ratio.toFixed(2) : `${r.ratio.toFixed(2)}x`;
}

function baselineValue(r: ScenarioResult, h: Headline): string {
  if (r.target.compare === 'server CPU per op') {
    const cpu = r.baseline?.cpuMsPerOp.server;
    return cpu === null || cpu === undefined ? '-' : `${cpu.toFixed(3)} ms CPU/op`;
  }
  return r.target.compare === 'throughput' ? `${int(h.throughput)} ops/s` : `p50 ${ms(h.p50)} ms`;
}

function table(header: string[], rows: string[][], alignLeft: number[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) =>
        alignLeft.includes(i) ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0),
      )
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The results table (one row per scenario) and the CPU-per-operation table. */
export function formatTables(results: ScenarioResult[]): string {
  const main = table(
    [
      'scenario',
      'ops/s',
      'p50 ms',
      'p95 ms',
      'p99 ms',
      'baseline',
      'baseline',
      'ratio',
      'target',
      'result',
    ],
    results.map((r) => [
      r.title,
      r.headline ? int(r.headline.throughput) : '-',
      r.headline ? ms(r.headline.p50) : '-',
      r.headline ? ms(r.headline.p95) : '-',
      r.headline ? ms(r.headline.p99) : '-',
      r.baselineTitle,
      r.baselineHeadline ? baselineValue(r, r.baselineHeadline) : '-',
      ratioText(r),
      targetText(r.target),
      r.verdict === 'n/a' ? (r.note ?? 'n/a') : r.verdict,
    ]),
    [0, 5, 9],
  );
  const cpuRows: string[][] = [];
  for (const r of results) {
    for (const m of [r.baseline, r.measured]) {
      if (!m) continue;
      const c = m.cpuMsPerOp;
      const f = (v: number | null) => (v === null ? '-' : v.toFixed(3));
      cpuRows.push([
        m.label,
        int(m.result.throughput),
        f(c.server),
        m.threadCpuMsPerOp.server
          ? `${f(m.threadCpuMsPerOp.server.main ?? 0)} / ${f(m.threadCpuMsPerOp.server.threadpool ?? 0)}`
          : '-',
        f(c.loadgen),
        f(c.postgres),
        f(c.redis),
        f(c.machine),
        `${m.machineBusyPct}%`,
        m.server ? `${m.server.rssMbEnd} / ${m.server.rssMbMax}` : '-',
      ]);
    }
  }
  const cpu = table(
    [
      'measurement',
      'ops/s',
      'server',
      '(main / pool)',
      'loadgen',
      'postgres',
      'redis',
      'machine',
      'busy',
      'server RSS MB (end/max)',
    ],
    cpuRows,
    [0],
  );
  const details = results.flatMap((r) => (r.details ? ['', r.details.text] : []));
  const notes = results
    .filter((r) => r.note && r.verdict !== 'n/a')
    .map((r) => `  ${r.name}: ${r.note}`);
  return [
    main,
    '',
    'CPU ms per operation during the window (server split: event loop / libuv threadpool;',
    'machine = every process on the machine, other work included):',
    cpu,
    ...details,
    ...(notes.length > 0 ? ['', 'notes:', ...notes] : []),
  ].join('\n');
}
