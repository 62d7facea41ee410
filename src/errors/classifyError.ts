import {
  BackendTerminatedError,
  BackendTerminatedUnexpectedlyError,
  ConnectionError,
  IdleTransactionTimeoutError,
  StatementCancelledError,
  StatementTimeoutError,
} from 'slonik';
import { AppError } from './AppError.ts';

// slonik's errors carry no `name` of their own (every one is "Error"), so they are recognised by
// class; pg errors by SQLSTATE `code`; ioredis errors by `name`; socket errors by errno code.

/** The database gave up waiting: statement_timeout, lock_timeout, idle-in-transaction timeout. */
const TIMEOUT_CLASSES = [StatementTimeoutError, IdleTransactionTimeoutError];
const TIMEOUT_CODES = new Set([
  '57014', // query_canceled (statement_timeout, when not already wrapped by slonik)
  '55P03', // lock_not_available (lock_timeout, NOWAIT)
  '25P03', // idle_in_transaction_session_timeout
]);
/** The transaction lost a race with another one; running the call again resolves it. */
const CONFLICT_CODES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
]);
const UNAVAILABLE_CLASSES = [
  ConnectionError,
  BackendTerminatedError,
  BackendTerminatedUnexpectedlyError,
  StatementCancelledError,
];
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
const UNAVAILABLE_NAMES = new Set(['MaxRetriesPerRequestError']);
const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'Connection is closed',
  "Stream isn't writeable",
  'Command timed out',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
];

const isInstance = (e: unknown, classes: (abstract new (...args: never[]) => unknown)[]) =>
  classes.some((c) => e instanceof c);

/** How soon a retry may succeed: a lock or a busy database is usually free again in a second. */
const RETRY_AFTER_MS = 1000;
const CONFLICT_RETRY_AFTER_MS = 100;

/**
 * Turns infrastructure failures into the public AppError they mean: UNAVAILABLE for a database
 * timeout (DATABASE_TIMEOUT) or an unreachable dependency (DEPENDENCY_UNAVAILABLE), ABORTED for
 * a transaction conflict, each with RetryInfo. Returns undefined for anything unexpected, which
 * the caller logs and hides as INTERNAL.
 */
export function classifyError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    const sqlState = typeof code === 'string' ? code : '';
    if (CONFLICT_CODES.has(sqlState)) {
      return new AppError('TRANSACTION_CONFLICT', 'the request conflicted with another; retry it', {
        retryAfterMs: CONFLICT_RETRY_AFTER_MS,
        cause: error,
      });
    }
    if (isInstance(e, TIMEOUT_CLASSES) || TIMEOUT_CODES.has(sqlState)) {
      return new AppError(
        'DATABASE_TIMEOUT',
        'the database did not answer in time (the data may be busy); retry shortly',
        { retryAfterMs: RETRY_AFTER_MS, cause: error },
      );
    }
    if (
      isInstance(e, UNAVAILABLE_CLASSES) ||
      UNAVAILABLE_CODES.has(sqlState) ||
      UNAVAILABLE_NAMES.has(e.name) ||
      UNAVAILABLE_MESSAGES.some((m) => e instanceof Error && e.message.includes(m))
    ) {
      return new AppError('DEPENDENCY_UNAVAILABLE', 'the service is temporarily unavailable', {
        retryAfterMs: RETRY_AFTER_MS,
        cause: error,
      });
    }
    e = e.cause;
  }
  return undefined;
}
