import { spawn } from 'node:child_process';
import { dirname } from 'node:path';
import { REPO_ROOT } from './spawnGatehouse.ts';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `command args` in the checkout with only `env` (plus PATH/HOME); `input` is its stdin. */
function run(
  command: string,
  args: string[],
  env: Record<string, string>,
  input: string | undefined,
): Promise<CliRun> {
  const child = spawn(command, args, {
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

/** Runs `node src/cli/<tool>.ts ...args` with only `env` (plus PATH/HOME); `input` is its stdin. */
export function runCli(
  tool: string,
  args: string[],
  env: Record<string, string>,
  input?: string,
): Promise<CliRun> {
  return run(process.execPath, [`src/cli/${tool}.ts`, ...args], env, input);
}

/**
 * Runs `scripts/run ...args` as the README prints it (npm and all), with this Node first on
 * PATH so it needs no download, and only `env` besides.
 */
export function runScript(args: string[], env: Record<string, string>): Promise<CliRun> {
  const path = `${dirname(process.execPath)}:${process.env.PATH ?? ''}`;
  return run('scripts/run', args, { ...env, PATH: path }, undefined);
}
