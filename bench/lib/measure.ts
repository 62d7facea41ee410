/**
 * Runs one load-generator job and, around its measurement window, reads what it cost: server
 * RSS (sampled every 200 ms, plus VmHWM), CPU time of the server process, of the load
 * generator, of the PostgreSQL backends of the benchmark database, of Redis, and of the whole
 * machine (the rest is other work on a shared machine).
 */
import type { Redis } from 'ioredis';
import type { BenchDatabase } from './database.ts';
import { redisCpuMs } from './database.ts';
import type { Loadgen } from './processes.ts';
import { readMachineCpuMs, readMemory, readProcessCpuMs, readThreadCpuMs } from './procfs.ts';
import type { Job, JobResult, WorkloadSpec } from './protocol.ts';

export interface ServerStats {
  process: string;
  pid: number;
  rssMbStart: number;
  rssMbEnd: number;
  rssMbMax: number;
  /** Peak RSS of the process since it started (VmHWM). */
  hwmMb: number;
}

export interface Measurement {
  label: string;
  workload: WorkloadSpec['kind'];
  concurrency: number;
  result: Omit<JobResult, 'id'>;
  server: ServerStats | null;
  /** CPU ms per successful operation, measurement window only. */
  cpuMsPerOp: {
    server: number | null;
    loadgen: number;
    postgres: number | null;
    redis: number | null;
    /** Everything on the machine, other engineers' work included. */
    machine: number;
  };
  /** The same split by thread group (main event loop, libuv threadpool, V8 helpers, other). */
  threadCpuMsPerOp: {
    server: Record<string, number> | null;
    loadgen: Record<string, number>;
  };
  /** Machine CPU busy during the window, % of all cores. */
  machineBusyPct: number;
}

export interface MeasureContext {
  loadgen: Loadgen;
  db: BenchDatabase;
  redis: Redis;
  concurrency: number;
  channels: number;
  warmupMs: number;
  durationMs: number;
}

interface Snapshot {
  server: number | null;
  serverThreads: Record<string, number> | null;
  loadgenThreads: Record<string, number>;
  postgres: Map<number, number>;
  redis: number | null;
  machine: { busyMs: number; totalMs: number };
}

const mb = (kb: number) => Math.round((kb / 1024) * 10) / 10;
const delay = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

async function postgresBackends(db: BenchDatabase): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  try {
    const { rows } = await db.pool.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
    for (const { pid } of rows) {
      const cpu = readProcessCpuMs(pid);
      if (cpu !== null) out.set(pid, cpu);
    }
  } catch {
    // not fatal: the column just stays empty
  }
  return out;
}

function perOp(
  a: Record<string, number>,
  b: Record<string, number>,
  ops: number,
): Record<string, number> {
  return Object.fromEntries(
    Object.entries(b).map(([k, v]) => [k, Math.round(((v - (a[k] ?? 0)) / ops) * 1000) / 1000]),
  );
}

let nextJobId = 0;

/** Sums CPU ms per thread group over several processes (instances of one service). */
function sumThreads(pids: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pid of pids) {
    for (const [k, v] of Object.entries(readThreadCpuMs(pid))) out[k] = (out[k] ?? 0) + v;
  }
  return out;
}

function sumCpu(pids: readonly number[]): number | null {
  let total = 0;
  for (const pid of pids) {
    const cpu = readProcessCpuMs(pid);
    if (cpu === null) return null;
    total += cpu;
  }
  return total;
}

/**
 * `server.pids`, when given, are several instances serving the load together: their CPU is
 * summed (memory is read from `server.pid`).
 */
export async function measure(
  ctx: MeasureContext,
  label: string,
  workload: WorkloadSpec,
  server: { name: string; pid: number; pids?: readonly number[] } | null,
  overrides: { concurrency?: number } = {},
): Promise<Measurement> {
  const job: Job = {
    id: ++nextJobId,
    workload,
    concurrency: overrides.concurrency ?? ctx.concurrency,
    channels: ctx.channels,
    warmupMs: ctx.warmupMs,
    durationMs: ctx.durationMs,
  };
  const snapshot = async (): Promise<Snapshot> => ({
    server: server ? sumCpu(server.pids ?? [server.pid]) : null,
    serverThreads: server ? sumThreads(server.pids ?? [server.pid]) : null,
    loadgenThreads: readThreadCpuMs(ctx.loadgen.pid),
    machine: readMachineCpuMs(),
    postgres: await postgresBackends(ctx.db),
    redis: await redisCpuMs(ctx.redis),
  });
  const memStart = server ? readMemory(server.pid) : null;
  let rssMaxKb = memStart?.rssKb ?? 0;
  const sampler = setInterval(() => {
    const m = server ? readMemory(server.pid) : null;
    if (m) rssMaxKb = Math.max(rssMaxKb, m.rssKb);
  }, 200);
  const running = ctx.loadgen.run(job);
  const atStart = delay(job.warmupMs).then(snapshot);
  const atEnd = delay(job.warmupMs + job.durationMs).then(snapshot);
  let result: JobResult;
  try {
    result = await running;
  } finally {
    clearInterval(sampler);
  }
  const [a, b] = await Promise.all([atStart, atEnd]);
  const memEnd = server ? readMemory(server.pid) : null;
  const ops = Math.max(1, result.ops);
  let postgresMs: number | null = null;
  if (b.postgres.size > 0) {
    postgresMs = 0;
    for (const [pid, cpu] of b.postgres) postgresMs += cpu - (a.postgres.get(pid) ?? 0);
  }
  const machineBusy = b.machine.busyMs - a.machine.busyMs;
  const machineTotal = b.machine.totalMs - a.machine.totalMs;
  const { id: _id, ...rest } = result;
  return {
    label,
    workload: workload.kind,
    concurrency: job.concurrency,
    result: rest,
    server:
      server && memStart && memEnd
        ? {
            process: server.name,
            pid: server.pid,
            rssMbStart: mb(memStart.rssKb),
            rssMbEnd: mb(memEnd.rssKb),
            rssMbMax: mb(Math.max(rssMaxKb, memEnd.rssKb)),
            hwmMb: mb(memEnd.hwmKb),
          }
        : null,
    cpuMsPerOp: {
      server: a.server !== null && b.server !== null ? (b.server - a.server) / ops : null,
      loadgen: result.loadgenCpuMs / ops,
      postgres: postgresMs === null ? null : postgresMs / ops,
      redis: a.redis !== null && b.redis !== null ? (b.redis - a.redis) / ops : null,
      machine: machineBusy / ops,
    },
    threadCpuMsPerOp: {
      server:
        a.serverThreads && b.serverThreads ? perOp(a.serverThreads, b.serverThreads, ops) : null,
      loadgen: perOp(a.loadgenThreads, b.loadgenThreads, ops),
    },
    machineBusyPct: machineTotal > 0 ? Math.round((machineBusy / machineTotal) * 1000) / 10 : 0,
  };
}
