import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface SpawnedGatehouse {
  process: ChildProcess;
  grpcPort: number;
  httpPort: number;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** Runs `node src/main.ts` as its own process and waits until it listens (LOG_LEVEL info or lower). */
export async function spawnGatehouse(
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<SpawnedGatehouse> {
  const child = spawn(process.execPath, ['src/main.ts'], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      GRPC_PORT: '0',
      HTTP_PORT: '0',
      GRPC_HOST: '127.0.0.1',
      HTTP_HOST: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  const listening = new Promise<{ grpcPort: number; httpPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gatehouse did not start in ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as Record<string, unknown>;
      logs.push(entry);
      if (entry.msg === 'gatehouse is listening') {
        clearTimeout(timer);
        resolve({ grpcPort: Number(entry.grpcPort), httpPort: Number(entry.httpPort) });
      }
    });
    exited.then((code) =>
      reject(
        new Error(
          `gatehouse exited with ${code} before listening: ${stderr}${JSON.stringify(logs.slice(-3))}`,
        ),
      ),
    );
  });
  const ports = await listening;
  return { process: child, ...ports, logs, exited };
}
