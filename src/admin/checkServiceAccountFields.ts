import type { FieldViolation } from '../errors/AppError.ts';

const NAME = /^[a-z0-9][a-z0-9-]{1,62}$/;
const MAX_DESCRIPTION = 1000;
// Control and format characters, except the line breaks and tabs a description may hold.
const DESCRIPTION_CONTROL = /[^\P{Cc}\n\t]|\p{Cf}/u;

/** A service account's name as stored (trimmed), or why it is not one. */
export function normalizeServiceAccountName(raw: string, field = 'name'): string | FieldViolation {
  const name = raw.trim();
  if (NAME.test(name)) return name;
  return {
    field,
    description:
      name === ''
        ? 'a name is required'
        : 'lowercase letters, digits and "-", 2 to 63 characters, not starting with "-"',
    reason: name === '' ? 'REQUIRED' : 'INVALID_FORMAT',
  };
}

/** A description as stored (NFKC, trimmed), or why it cannot be one. */
export function normalizeDescription(raw: string, field = 'description'): string | FieldViolation {
  const value = raw.normalize('NFKC').trim();
  if ([...value].length > MAX_DESCRIPTION || DESCRIPTION_CONTROL.test(value)) {
    return {
      field,
      description: `at most ${MAX_DESCRIPTION} characters, no control characters but line breaks and tabs`,
      reason: 'INVALID_FORMAT',
    };
  }
  return value;
}
