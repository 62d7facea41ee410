import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** The buf binary shipped in node_modules. */
export const BUF = new URL('../../node_modules/.bin/buf', import.meta.url).pathname;

/** buf curl: an independent client that knows nothing but what reflection tells it. */
export async function bufCurl(
  target: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      BUF,
      ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', ...args, target],
      { timeout: 30_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
