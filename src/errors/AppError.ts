import type { ErrorReason as ErrorReasonEnum } from '../gen/gatehouse/errors/v1/error_reason.ts';

/**
 * The one error vocabulary of Gatehouse: the value names of the proto enum
 * gatehouse.errors.v1.ErrorReason, which are the stable google.rpc.ErrorInfo.reason strings
 * clients see. src/grpc/errorCatalog.ts maps each to its gRPC status.
 */
export type ErrorReason = Exclude<
  keyof typeof ErrorReasonEnum,
  'ERROR_REASON_UNSPECIFIED' | 'UNRECOGNIZED'
>;

/** One invalid request field, reported as a google.rpc.BadRequest.FieldViolation. */
export interface FieldViolation {
  field: string;
  description: string;
  /** Machine-readable cause, e.g. TOO_SHORT, COMMON_PASSWORD. */
  reason?: string;
}

export interface AppErrorOptions {
  fieldViolations?: FieldViolation[];
  /** Sent as google.rpc.RetryInfo.retry_delay. */
  retryAfterMs?: number;
  /** Extra ErrorInfo metadata; must never hold secrets. */
  metadata?: Record<string, string>;
  cause?: unknown;
}

/** An expected failure with a public reason; its message is safe to send to the client. */
export class AppError extends Error {
  readonly reason: ErrorReason;
  readonly fieldViolations: FieldViolation[];
  readonly retryAfterMs: number | undefined;
  readonly metadata: Record<string, string>;

  constructor(reason: ErrorReason, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.reason = reason;
    this.fieldViolations = options.fieldViolations ?? [];
    this.retryAfterMs = options.retryAfterMs;
    this.metadata = options.metadata ?? {};
  }
}

/**
 * Shorthand for INVALID_ARGUMENT (VALIDATION_FAILED) with field violations. The message says
 * what is wrong with each field ("password: this password is too common; choose another"), so
 * a person reading only the status message (a terminal, a log line) knows what to fix. Fields
 * are joined with ". " because descriptions may themselves contain ";".
 */
export function invalidArgument(violations: FieldViolation[]): AppError {
  const message =
    violations.map((v) => `${v.field}: ${v.description}`).join('. ') || 'invalid request';
  return new AppError('VALIDATION_FAILED', message, { fieldViolations: violations });
}
