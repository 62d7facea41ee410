import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { AppError, type ErrorReason } from '../errors/AppError.ts';
import { classifyError } from '../errors/classifyError.ts';
import type { Logger } from '../log.ts';
import { ERROR_DOMAIN, errorCatalog } from './errorCatalog.ts';
import { encodeRpcStatus } from './rpcStatus.ts';

/** Expected failures an operator wants to see in the log (with their cause). */
const LOGGED_REASONS = new Set<ErrorReason>([
  'DEPENDENCY_UNAVAILABLE',
  'DATABASE_TIMEOUT',
  'TRANSACTION_CONFLICT',
]);

/**
 * The one place an error becomes a gRPC status: known errors keep their reason and details;
 * anything else is logged with its stack and reaches the client only as a generic INTERNAL.
 */
export function toServiceError(error: unknown, log: Logger): ServiceError {
  let appError = classifyError(error);
  if (appError === undefined) {
    log.error({ err: error }, 'unexpected error');
    appError = new AppError('INTERNAL', 'internal error');
  } else if (LOGGED_REASONS.has(appError.reason)) {
    log.warn({ err: appError.cause ?? appError }, appError.message);
  }
  const code = errorCatalog[appError.reason];
  const metadata = new Metadata();
  metadata.set(
    'grpc-status-details-bin',
    encodeRpcStatus({
      code,
      message: appError.message,
      errorInfo: { reason: appError.reason, domain: ERROR_DOMAIN, metadata: appError.metadata },
      fieldViolations: appError.fieldViolations.map((v) => ({
        field: v.field,
        description: v.description,
        reason: v.reason ?? '',
      })),
      ...(appError.retryAfterMs === undefined ? {} : { retryDelayMs: appError.retryAfterMs }),
    }),
  );
  const err = new Error(appError.message) as ServiceError;
  err.code = code;
  err.details = appError.message;
  err.metadata = metadata;
  return err;
}
