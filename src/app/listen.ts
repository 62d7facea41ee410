import { describeListenError, type ListenTarget } from '../startup/describeListenError.ts';
import { StartupError } from '../startup/StartupError.ts';

export type { ListenTarget };

/** host:port, with brackets around IPv6 hosts. */
export const hostPort = (host: string, port: number) =>
  host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;

/** A failed bind as a StartupError naming the setting (the original error when unknown). */
export function listenFailure(error: unknown, target: ListenTarget): Error {
  const line = describeListenError(error, target);
  return line === null ? (error as Error) : new StartupError(line, { cause: error });
}
