import { status } from '@grpc/grpc-js';
import type { ErrorReason } from '../errors/AppError.ts';

/** ErrorInfo.domain of every Gatehouse error. */
export const ERROR_DOMAIN = 'gatehouse';

/**
 * The single table from error reason to gRPC status code, keyed by the values of
 * gatehouse.errors.v1.ErrorReason; each value's comment in
 * proto/gatehouse/errors/v1/error_reason.proto names the same code for clients
 * (errorCatalog.test.ts keeps the two in step).
 */
export const errorCatalog: Record<ErrorReason, status> = {
  VALIDATION_FAILED: status.INVALID_ARGUMENT,
  INVALID_CURRENT_PASSWORD: status.INVALID_ARGUMENT,
  INVALID_RESET_TOKEN: status.INVALID_ARGUMENT,
  INVALID_VERIFICATION_TOKEN: status.INVALID_ARGUMENT,
  INVALID_PAGE_TOKEN: status.INVALID_ARGUMENT,
  INVALID_ACCESS_TOKEN: status.UNAUTHENTICATED,
  INVALID_CREDENTIALS: status.UNAUTHENTICATED,
  INVALID_REFRESH_TOKEN: status.UNAUTHENTICATED,
  ADMIN_ROLE_REQUIRED: status.PERMISSION_DENIED,
  USER_NOT_FOUND: status.NOT_FOUND,
  SESSION_NOT_FOUND: status.NOT_FOUND,
  EMAIL_TAKEN: status.ALREADY_EXISTS,
  USERNAME_TAKEN: status.ALREADY_EXISTS,
  EMAIL_ALREADY_VERIFIED: status.FAILED_PRECONDITION,
  LAST_ACTIVE_ADMIN: status.FAILED_PRECONDITION,
  RATE_LIMITED: status.RESOURCE_EXHAUSTED,
  METADATA_TOO_LARGE: status.RESOURCE_EXHAUSTED,
  DEPENDENCY_UNAVAILABLE: status.UNAVAILABLE,
  DATABASE_TIMEOUT: status.UNAVAILABLE,
  SHUTTING_DOWN: status.UNAVAILABLE,
  TRANSACTION_CONFLICT: status.ABORTED,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  NOT_IMPLEMENTED: status.UNIMPLEMENTED,
  INTERNAL: status.INTERNAL,
  SERVICE_ACCOUNT_NOT_FOUND: status.NOT_FOUND,
  SERVICE_ACCOUNT_NAME_TAKEN: status.ALREADY_EXISTS,
  API_KEY_NOT_FOUND: status.NOT_FOUND,
  API_KEY_LIMIT_REACHED: status.FAILED_PRECONDITION,
  PERMISSION_REQUIRED: status.PERMISSION_DENIED,
};
