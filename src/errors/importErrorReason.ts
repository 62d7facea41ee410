import type { ErrorReason } from './AppError.ts';

/**
 * Why one ImportUsers entry failed, in the one error vocabulary: the ErrorReason a call with
 * that entry alone would fail with, and for VALIDATION_FAILED the entry field at fault.
 */
export type ImportFailure =
  | { reason: Extract<ErrorReason, 'EMAIL_TAKEN' | 'USERNAME_TAKEN'> }
  | { reason: Extract<ErrorReason, 'VALIDATION_FAILED'>; field: string };

/** ImportUserResult.error_reason values; they predate the ErrorReason enum and stay as they are. */
export type ImportErrorReason =
  | 'ALREADY_EXISTS'
  | 'INVALID_EMAIL'
  | 'INVALID_USERNAME'
  | 'INVALID_ROLE'
  | 'INVALID_HASH'
  | 'VALIDATION_FAILED';

/** The entry fields whose VALIDATION_FAILED has a wire value of its own. */
const INVALID_FIELD: ReadonlyMap<string, ImportErrorReason> = new Map([
  ['email', 'INVALID_EMAIL'],
  ['username', 'INVALID_USERNAME'],
  ['roles', 'INVALID_ROLE'],
  ['password_hash', 'INVALID_HASH'],
]);

/**
 * The one mapping from an import failure to ImportUserResult.error_reason, as documented on
 * that field: a taken email or username is ALREADY_EXISTS, a field-specific VALIDATION_FAILED
 * is INVALID_<FIELD>.
 */
export function importErrorReason(failure: ImportFailure): ImportErrorReason {
  if (failure.reason !== 'VALIDATION_FAILED') return 'ALREADY_EXISTS';
  return INVALID_FIELD.get(failure.field) ?? 'VALIDATION_FAILED';
}
