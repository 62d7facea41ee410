import { spawn } from 'node:child_process';
import { REPO_ROOT } from './spawnGatehouse.ts';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node src/cli/<tool>.ts ...args` with only `env` (plus PATH/HOME); `input` is its stdin. */
export function runCli(
  tool: string,
  args: string[],
  env: Record<string, string>,
  input?: string,
): Promise<CliRun> {
  const child = spawn(process.execPath, [`src/cli/${tool}.ts`, ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (input !== undefined) child.stdin?.end(input);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += String(d);
  });
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  return new Promise<CliRun>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
}
