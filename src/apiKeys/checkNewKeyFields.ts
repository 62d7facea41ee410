import { normalizeRoles } from '../admin/normalizeRoles.ts';
import { isViolation, normalizeDisplayName } from '../auth/normalize.ts';
import type { FieldViolation } from '../errors/AppError.ts';
import { checkKeyExpiry } from './keyExpiry.ts';

/** The display name, roles and expiry a new key asks for, checked. */
export interface NewKeyFields {
  displayName: string;
  roles: string[];
  expiresAt: Date | null;
}

/**
 * Checks what a new key asks for (display name, role names, an expiry in the future and within
 * `maxTtlMs`), returning the normalised fields or every violation at once (whether the owner
 * holds the roles is createApiKey's check).
 */
export function checkNewKeyFields(
  input: { displayName: string; roles: readonly string[]; expiresAt: Date | null },
  maxTtlMs: number | null,
): NewKeyFields | FieldViolation[] {
  const displayName = normalizeDisplayName(input.displayName);
  const roles = normalizeRoles(input.roles);
  const expiry = checkKeyExpiry(input.expiresAt, maxTtlMs, Date.now());
  if (isViolation(displayName) || isViolation(roles) || expiry !== null) {
    return [displayName, roles, expiry].filter(isViolation);
  }
  return { displayName, roles, expiresAt: input.expiresAt };
}
