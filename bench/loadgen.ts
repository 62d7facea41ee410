/**
 * The load generator: its own process (bench/run.ts forks it), so its CPU is not the server's
 * and not the orchestrator's. It receives jobs over IPC, runs `concurrency` closed-loop workers
 * for warm-up + duration, and answers with throughput and exact latency percentiles of the
 * operations that completed inside the measurement window.
 *
 * UV_THREADPOOL_SIZE is set by the orchestrator to the server's, which matters for the argon2
 * baselines that run here.
 */
import { argon2HashWorkload, argon2VerifyWorkload } from './baselines/argon2Loop.ts';
import { emptyRpcWorkload } from './baselines/emptyRpc.ts';
import { pgRefreshWorkload } from './baselines/pgRefresh.ts';
import { signAndAuditWorkload } from './baselines/signAndAudit.ts';
import { OpError, StopWorker } from './lib/grpcUnary.ts';
import type { FromLoadgen, Job, JobResult, ToLoadgen } from './lib/protocol.ts';
import { LatencyRecorder } from './lib/stats.ts';
import {
  checkPermissionWorkload,
  exchangeApiKeyWorkload,
  extAuthzCheckWorkload,
  listAuditEventsWorkload,
  listUsersWorkload,
  loginWorkload,
  refreshWorkload,
  registerWorkload,
  validateTokenWorkload,
} from './workloads/gatehouse.ts';
import { verifierWorkload } from './workloads/verifier.ts';
import type { Workload } from './workloads/Workload.ts';

/** A worker that fails this many times in a row stops (the target is down or misconfigured). */
const MAX_CONSECUTIVE_ERRORS = 50;

async function createWorkload(job: Job): Promise<Workload> {
  const w = job.workload;
  switch (w.kind) {
    case 'grpc-empty':
      return emptyRpcWorkload(w, job.channels);
    case 'validate-token':
      return validateTokenWorkload(w, job.channels);
    case 'exchange-api-key':
      return exchangeApiKeyWorkload(w, job.channels);
    case 'verifier-verify':
      return verifierWorkload(w);
    case 'login':
      return loginWorkload(w, job.channels);
    case 'register':
      return registerWorkload(w, job.channels);
    case 'refresh':
      return refreshWorkload(w, job.channels, job.concurrency);
    case 'list-users':
      return listUsersWorkload(w, job.channels);
    case 'list-audit-events':
      return listAuditEventsWorkload(w, job.channels);
    case 'check-permission':
      return checkPermissionWorkload(w, job.channels);
    case 'ext-authz-check':
      return extAuthzCheckWorkload(w, job.channels);
    case 'argon2-verify':
      return argon2VerifyWorkload(w);
    case 'argon2-hash':
      return argon2HashWorkload(w);
    case 'pg-refresh':
      return pgRefreshWorkload(w, job.concurrency);
    case 'sign-and-audit':
      return signAndAuditWorkload(w);
  }
}

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

export async function runJob(job: Job): Promise<JobResult> {
  const workload = await createWorkload(job);
  const series = new Map<string, LatencyRecorder>([['all', new LatencyRecorder()]]);
  const errors: Record<string, number> = {};
  let firstError: string | null = null;
  let ops = 0;
  let stoppedWorkers = 0;

  const started = performance.now();
  const from = started + job.warmupMs;
  const to = from + job.durationMs;
  let cpuAtFrom = process.cpuUsage();
  let cpuInWindow: number | undefined;
  const fromTimer = setTimeout(() => {
    cpuAtFrom = process.cpuUsage();
  }, job.warmupMs);
  const toTimer = setTimeout(() => {
    cpuInWindow = cpuMs(process.cpuUsage(cpuAtFrom));
  }, job.warmupMs + job.durationMs);

  const worker = async (w: number) => {
    let consecutiveErrors = 0;
    while (performance.now() < to) {
      const t0 = performance.now();
      try {
        const label = await workload.op(w);
        const t1 = performance.now();
        consecutiveErrors = 0;
        if (t1 >= from && t1 <= to) {
          ops += 1;
          (series.get('all') as LatencyRecorder).record(t1 - t0);
          if (label !== undefined) {
            let rec = series.get(label);
            if (!rec) {
              rec = new LatencyRecorder();
              series.set(label, rec);
            }
            rec.record(t1 - t0);
          }
        }
      } catch (error) {
        const t1 = performance.now();
        const code = error instanceof OpError ? error.code : (error as Error).name || 'Error';
        if (t1 >= from && t1 <= to) errors[code] = (errors[code] ?? 0) + 1;
        firstError ??= `${code}: ${(error as Error).message}`;
        consecutiveErrors += 1;
        if (error instanceof StopWorker || consecutiveErrors >= MAX_CONSECUTIVE_ERRORS) {
          stoppedWorkers += 1;
          return;
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: job.concurrency }, (_, w) => worker(w)));
  } finally {
    clearTimeout(fromTimer);
    clearTimeout(toTimer);
    await workload.close();
  }
  const latency = Object.fromEntries([...series].map(([k, rec]) => [k, rec.summary()]));
  return {
    id: job.id,
    ops,
    errors,
    firstError,
    windowMs: job.durationMs,
    throughput: ops / (job.durationMs / 1000),
    latency,
    loadgenCpuMs: cpuInWindow ?? cpuMs(process.cpuUsage(cpuAtFrom)),
    stoppedWorkers,
    stats: workload.stats?.() ?? {},
  };
}

if (import.meta.main) {
  const send = (m: FromLoadgen) => process.send?.(m);
  process.on('disconnect', () => process.exit(0));
  process.on('message', (raw: unknown) => {
    const message = raw as ToLoadgen;
    if (message.type === 'exit') process.exit(0);
    if (message.type !== 'run') return;
    runJob(message.job).then(
      (result) => send({ type: 'result', result }),
      (error: unknown) =>
        send({
          type: 'failed',
          id: message.job.id,
          error: (error as Error).stack ?? String(error),
        }),
    );
  });
  send({ type: 'ready' });
}
