import { isUuid, isViolation } from '../auth/normalize.ts';
import { type FieldViolation, invalidArgument } from '../errors/AppError.ts';

/**
 * The id of a request, normalised, or the violation of `field` when it is not a UUID; `noun`
 * says what it identifies ("user", "service account") in the description.
 */
export function checkId(
  value: string | undefined,
  field: string,
  noun: string,
): string | FieldViolation {
  const id = (value ?? '').trim().toLowerCase();
  if (isUuid(id)) return id;
  return {
    field,
    description: id === '' ? `a ${noun} id is required` : `must be a ${noun} id (UUID)`,
    reason: id === '' ? 'REQUIRED' : 'INVALID_FORMAT',
  };
}

/** The id of a request, or INVALID_ARGUMENT naming `field` when it is not a UUID. */
export function requireId(value: string | undefined, field: string, noun: string): string {
  const id = checkId(value, field, noun);
  if (isViolation(id)) throw invalidArgument([id]);
  return id;
}

/** The user id of a request, or INVALID_ARGUMENT naming `field` when it is not a UUID. */
export function requireUserId(value: string | undefined, field = 'user_id'): string {
  return requireId(value, field, 'user');
}
