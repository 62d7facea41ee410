import type { FieldViolation } from '../errors/AppError.ts';

const ROLE = /^[a-z][a-z0-9_-]{0,31}$/;
const MAX_ROLES = 16;

/** Whether `role` is a valid role name: lowercase, starts with a letter, at most 32 characters. */
export function isRoleName(role: string): boolean {
  return ROLE.test(role);
}

/** Validates role names and returns them sorted without duplicates (the stored form). */
export function normalizeRoles(
  roles: readonly string[],
  field = 'roles',
): string[] | FieldViolation {
  const invalid = roles.findIndex((r) => !isRoleName(r));
  if (invalid >= 0) {
    return {
      field: `${field}[${invalid}]`,
      description: 'a role name is lowercase: a letter, then up to 31 letters, digits, "_" or "-"',
      reason: 'INVALID_ROLE',
    };
  }
  const unique = [...new Set(roles)].sort();
  if (unique.length > MAX_ROLES) {
    return { field, description: `at most ${MAX_ROLES} roles`, reason: 'TOO_MANY' };
  }
  return unique;
}
