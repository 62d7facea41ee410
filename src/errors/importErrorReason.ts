import type { ErrorReason, FieldViolation } from './AppError.ts';

/**
 * Why one entry of an import (ImportUsers, ImportApiKeys) failed, in the one error vocabulary:
 * the ErrorReason a call with that entry alone would fail with, and for VALIDATION_FAILED the
 * entry field at fault. A secret that already belongs to a key is the one failure no other RPC
 * can meet (every other key gets a new random secret), so it has no ErrorReason of its own.
 */
export type ImportFailure =
  | {
      reason: Extract<
        ErrorReason,
        | 'EMAIL_TAKEN'
        | 'USERNAME_TAKEN'
        | 'USER_NOT_FOUND'
        | 'SERVICE_ACCOUNT_NOT_FOUND'
        | 'API_KEY_LIMIT_REACHED'
      >;
    }
  | { reason: 'API_KEY_SECRET_TAKEN' }
  | { reason: Extract<ErrorReason, 'VALIDATION_FAILED'>; field: string };

/**
 * ImportUserResult.error_reason and ImportApiKeyResult.error_reason values; those of
 * ImportUsers predate the ErrorReason enum and stay as they are.
 */
export type ImportErrorReason =
  | 'ALREADY_EXISTS'
  | 'INVALID_EMAIL'
  | 'INVALID_USERNAME'
  | 'INVALID_ROLE'
  | 'INVALID_HASH'
  | 'INVALID_SECRET'
  | 'USER_NOT_FOUND'
  | 'SERVICE_ACCOUNT_NOT_FOUND'
  | 'API_KEY_LIMIT_REACHED'
  | 'VALIDATION_FAILED';

/** The entry fields whose VALIDATION_FAILED has a wire value of its own. */
const INVALID_FIELD: ReadonlyMap<string, ImportErrorReason> = new Map([
  ['email', 'INVALID_EMAIL'],
  ['user_email', 'INVALID_EMAIL'],
  ['username', 'INVALID_USERNAME'],
  ['roles', 'INVALID_ROLE'],
  ['password_hash', 'INVALID_HASH'],
  ['secret', 'INVALID_SECRET'],
  ['secret_sha256', 'INVALID_SECRET'],
]);

/**
 * The one mapping from an import failure to the result's error_reason, as documented on those
 * fields: something taken (an email, a username, a key's secret) is ALREADY_EXISTS, an owner
 * that does not exist or a user's full key allowance keeps its reason, a field-specific
 * VALIDATION_FAILED is INVALID_<FIELD>.
 */
export function importErrorReason(failure: ImportFailure): ImportErrorReason {
  switch (failure.reason) {
    case 'VALIDATION_FAILED':
      return INVALID_FIELD.get(failure.field) ?? 'VALIDATION_FAILED';
    case 'USER_NOT_FOUND':
    case 'SERVICE_ACCOUNT_NOT_FOUND':
    case 'API_KEY_LIMIT_REACHED':
      return failure.reason;
    case 'EMAIL_TAKEN':
    case 'USERNAME_TAKEN':
    case 'API_KEY_SECRET_TAKEN':
      return 'ALREADY_EXISTS';
  }
}

/**
 * Why one row of ImportOrganizations or ImportMemberships failed, google.rpc style: `reason` is
 * the ErrorReason a single call with that row would fail with (the result's error_reason, as
 * an ErrorInfo would carry it), `field` the row's field at fault as a BadRequest would name it
 * ('' when none), `message` for people. These later imports report reasons as they are, not
 * narrowed into INVALID_<FIELD> names: the field says which part of the row is wrong.
 */
export interface ImportRowFailure {
  reason: Extract<
    ErrorReason,
    | 'VALIDATION_FAILED'
    | 'ORGANIZATION_NOT_FOUND'
    | 'USER_NOT_FOUND'
    | 'SERVICE_ACCOUNT_NOT_FOUND'
    | 'ROLE_NOT_FOUND'
  >;
  field: string;
  message: string;
}

/** The row failure of a field violation: VALIDATION_FAILED on its field. */
export function rowValidationFailure(violation: FieldViolation): ImportRowFailure {
  return {
    reason: 'VALIDATION_FAILED',
    field: violation.field,
    message: `${violation.field}: ${violation.description}`,
  };
}
