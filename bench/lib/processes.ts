/**
 * The child processes of a benchmark run: Gatehouse itself (`node src/main.ts`), the bare
 * grpc-js server of the baseline, and the load generator. Each is its own process so that
 * its RSS and CPU can be read from /proc and none of them steals the others' event loop.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { SERVICE_ENV, SERVICE_NODE_FLAGS } from '../../src/startup/serviceRuntime.ts';
import type { FromLoadgen, Job, JobResult, ToLoadgen } from './protocol.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** Every child still running; killed outright if the orchestrator exits without stopping it. */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stops a child: `signal` first, SIGKILL after `graceMs`; resolves once it has exited. */
export async function stopChild(
  child: ChildProcess,
  graceMs = 5000,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export interface GatehouseProcess {
  child: ChildProcess;
  pid: number;
  target: string;
  httpPort: number;
  /** Last lines of its output, for error messages. */
  output(): string;
}

/**
 * Starts `node src/main.ts` with `env` on free ports and waits until /readyz answers 200
 * (PostgreSQL and Redis reachable, migrations applied, gRPC bound). LOG_LEVEL should be warn:
 * at info every call writes an access-log line, which would be measured too.
 */
export async function startGatehouse(
  env: Record<string, string>,
  options: { cpuProfDir?: string | undefined; root?: string; timeoutMs?: number } = {},
): Promise<GatehouseProcess> {
  const grpcPort = await freePort();
  const httpPort = await freePort();
  // Started like the service is everywhere (src/startup/serviceRuntime.ts), so its memory is
  // what a deployment's is; the bare grpc-js baseline stays untuned.
  const nodeArgs: string[] = [...SERVICE_NODE_FLAGS];
  if (options.cpuProfDir) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`);
  const child = track(
    spawn(process.execPath, [...nodeArgs, 'src/main.ts'], {
      cwd: options.root ?? ROOT,
      env: {
        ...SERVICE_ENV,
        ...env,
        GRPC_HOST: '127.0.0.1',
        GRPC_PORT: String(grpcPort),
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: String(httpPort),
        CONNECT_HOST: '127.0.0.1',
        CONNECT_PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + String(d)).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `gatehouse exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output}`,
      );
    }
    try {
      const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`, {
        signal: AbortSignal.timeout(1000),
      });
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stopChild(child, 1000, 'SIGKILL');
      throw new Error(
        `gatehouse was not ready within ${options.timeoutMs ?? 60_000} ms:\n${output}`,
      );
    }
    await sleep(100);
  }
  return {
    child,
    pid: child.pid as number,
    target: `127.0.0.1:${grpcPort}`,
    httpPort,
    output: () => output,
  };
}

export interface EmptyServerProcess {
  child: ChildProcess;
  pid: number;
  target: string;
}

/** Forks the bare grpc-js server of the empty-RPC baseline and waits for its port. */
export async function startEmptyServer(): Promise<EmptyServerProcess> {
  const child = track(
    fork(new URL('../baselines/emptyServer.ts', import.meta.url).pathname, [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: unknown) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`empty server exited with ${code}`)));
  });
  return { child, pid: child.pid as number, target: `127.0.0.1:${port}` };
}

export interface Loadgen {
  child: ChildProcess;
  pid: number;
  run(job: Job): Promise<JobResult>;
  stop(): Promise<void>;
}

/** Forks the load generator with the given libuv threadpool size (the server's). */
export async function startLoadgen(threadpoolSize: string): Promise<Loadgen> {
  const child = track(
    fork(new URL('../loadgen.ts', import.meta.url).pathname, [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, UV_THREADPOOL_SIZE: threadpoolSize },
    }),
  );
  let pending: { id: number; resolve: (r: JobResult) => void; reject: (e: Error) => void } | null =
    null;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`load generator exited with ${code}`)));
  });
  child.on('message', (raw: unknown) => {
    const m = raw as FromLoadgen;
    if (!pending) return;
    if (m.type === 'result' && m.result.id === pending.id) pending.resolve(m.result);
    if (m.type === 'failed' && m.id === pending.id) pending.reject(new Error(m.error));
    pending = null;
  });
  child.on('exit', (code, signal) => {
    pending?.reject(new Error(`load generator died (${code ?? signal})`));
    pending = null;
  });
  return {
    child,
    pid: child.pid as number,
    run(job) {
      if (pending) return Promise.reject(new Error('load generator is busy'));
      return new Promise((resolve, reject) => {
        pending = { id: job.id, resolve, reject };
        child.send({ type: 'run', job } satisfies ToLoadgen);
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (child.connected) child.send({ type: 'exit' } satisfies ToLoadgen);
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}
