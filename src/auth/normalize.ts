import type { FieldViolation } from '../errors/AppError.ts';

const CONTROL = /[\p{Cc}\p{Cf}]/u;
const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/u;
const USERNAME = /^[\p{L}\p{N}][\p{L}\p{N}._-]{2,31}$/u;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Case-folding used for uniqueness: NFKC, then lower case, then NFKC again (lowering can denormalise). */
function fold(value: string): string {
  return value.normalize('NFKC').toLowerCase().normalize('NFKC');
}

export interface NormalizedEmail {
  /** As the user typed it (trimmed, NFKC); shown back to them. */
  display: string;
  /** Trimmed, NFKC, case-folded: the form uniqueness and lookups use. */
  normalized: string;
}

/** Normalises an email address, or returns the violation explaining why it is not one. */
export function normalizeEmail(raw: string, field = 'email'): NormalizedEmail | FieldViolation {
  const display = raw.normalize('NFKC').trim();
  if (display === '')
    return { field, description: 'an email address is required', reason: 'REQUIRED' };
  if (display.length > 254 || CONTROL.test(display) || !EMAIL.test(display)) {
    return { field, description: 'not a valid email address', reason: 'INVALID_FORMAT' };
  }
  return { display, normalized: fold(display) };
}

/** Normalises a username (3-32 letters, digits, '.', '_' or '-', starting with a letter or digit). */
export function normalizeUsername(
  raw: string,
  field = 'username',
): { display: string; normalized: string } | FieldViolation {
  const display = raw.normalize('NFKC').trim();
  if (!USERNAME.test(display)) {
    return {
      field,
      description:
        'a username has 3-32 letters, digits, ".", "_" or "-" and starts with a letter or digit',
      reason: 'INVALID_FORMAT',
    };
  }
  return { display, normalized: fold(display) };
}

/** Normalises a login identifier: emails contain "@", usernames never do. */
export function normalizeIdentifier(raw: string): string {
  return fold(raw.trim());
}

/** Display names: NFKC, trimmed, no control characters, at most 100 code points. */
export function normalizeDisplayName(raw: string, field = 'display_name'): string | FieldViolation {
  const value = raw.normalize('NFKC').trim();
  if ([...value].length > 100 || CONTROL.test(value)) {
    return {
      field,
      description: 'at most 100 characters, no control characters',
      reason: 'INVALID_FORMAT',
    };
  }
  return value;
}

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

export function isViolation(value: unknown): value is FieldViolation {
  return typeof value === 'object' && value !== null && 'description' in value && 'field' in value;
}
