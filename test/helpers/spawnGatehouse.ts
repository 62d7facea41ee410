import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** The checkout these tests belong to. */
export const REPO_ROOT = new URL('../..', import.meta.url).pathname;

/** A clean environment for `node src/main.ts`: free ports on loopback unless `env` says otherwise. */
function processEnv(env: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    GRPC_PORT: '0',
    HTTP_PORT: '0',
    CONNECT_PORT: '0',
    GRPC_HOST: '127.0.0.1',
    HTTP_HOST: '127.0.0.1',
    CONNECT_HOST: '127.0.0.1',
    ...env,
  };
}

export interface SpawnedGatehouse {
  process: ChildProcess;
  grpcPort: number;
  httpPort: number;
  /** The Connect listener's port (NaN with CONNECT_ENABLED=false). */
  connectPort: number;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
  /** Every other stdout line so far (the banner). */
  stdout: string[];
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

export interface FinishedGatehouse {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node src/main.ts` expecting it to stop by itself (a start-up failure): resolves with
 * its exit code and output. Killed after `timeoutMs`, which then fails the caller's assertions.
 */
export function runGatehouseToExit(
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<FinishedGatehouse> {
  const child = spawn(process.execPath, ['src/main.ts'], {
    cwd: REPO_ROOT,
    env: processEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += String(d);
  });
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

/**
 * Runs `node src/main.ts` as its own process and waits until it listens (LOG_LEVEL info or lower).
 * `cwd` is the checkout to run (default: this one).
 */
export async function spawnGatehouse(
  env: Record<string, string>,
  timeoutMs = 60_000,
  cwd = REPO_ROOT,
): Promise<SpawnedGatehouse> {
  const child = spawn(process.execPath, ['src/main.ts'], {
    cwd,
    env: processEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const stdout: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  const listening = new Promise<{ grpcPort: number; httpPort: number; connectPort: number }>(
    (resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`gatehouse did not start in ${timeoutMs} ms: ${stderr}`));
      }, timeoutMs);
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        if (!line.startsWith('{')) {
          stdout.push(line);
          return;
        }
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === 'gatehouse is listening') {
          clearTimeout(timer);
          resolve({
            grpcPort: Number(entry.grpcPort),
            httpPort: Number(entry.httpPort),
            connectPort: Number(entry.connectPort),
          });
        }
      });
      exited.then((code) =>
        reject(
          new Error(
            `gatehouse exited with ${code} before listening: ${stderr}${JSON.stringify(logs.slice(-3))}`,
          ),
        ),
      );
    },
  );
  const ports = await listening;
  return { process: child, ...ports, logs, stdout, exited };
}
