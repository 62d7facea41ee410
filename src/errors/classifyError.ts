import { AppError } from './AppError.ts';

// Connection-level failures of PostgreSQL (pg / slonik) and Redis (ioredis). Matching on codes and
// names keeps this module free of driver imports.
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
]);
const UNAVAILABLE_NAMES = new Set([
  'ConnectionError',
  'BackendTerminatedError',
  'BackendTerminatedUnexpectedlyError',
  'StatementTimeoutError',
  'MaxRetriesPerRequestError',
]);
const CONFLICT_CODES = new Set(['40001', '40P01']);
const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'Connection is closed',
  "Stream isn't writeable",
  'Command timed out',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
];

/**
 * Turns infrastructure failures into the public AppError they mean (UNAVAILABLE, ABORTED);
 * returns undefined for anything unexpected, which the caller logs and hides as INTERNAL.
 */
export function classifyError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CONFLICT_CODES.has(code)) {
      return new AppError('TRANSACTION_CONFLICT', 'the request conflicted with another; retry it', {
        cause: error,
      });
    }
    if (
      (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) ||
      UNAVAILABLE_NAMES.has(e.name) ||
      UNAVAILABLE_MESSAGES.some((m) => e instanceof Error && e.message.includes(m))
    ) {
      return new AppError('DEPENDENCY_UNAVAILABLE', 'the service is temporarily unavailable', {
        retryAfterMs: 1000,
        cause: error,
      });
    }
    e = e.cause;
  }
  return undefined;
}
