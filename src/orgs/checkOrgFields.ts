import { isRoleName } from '../admin/normalizeRoles.ts';
import { checkId } from '../admin/requireUserId.ts';
import { isViolation } from '../auth/normalize.ts';
import type { MemberRef } from '../domain/Organization.ts';
import type { RoleScope } from '../domain/Role.ts';
import { type FieldViolation, invalidArgument } from '../errors/AppError.ts';

const PERMISSION = /^[a-z][a-z0-9_-]*:[a-z][a-z0-9_-]*$/;
const MAX_PERMISSION = 128;
const ROLE_NAME = /^[a-z][a-z0-9_-]{0,62}$/;
const SLUG = /^[a-z0-9][a-z0-9-]{1,62}$/;
const ATTRIBUTE_KEY = /^[a-z][a-z0-9_.-]{0,62}$/;
const MAX_ATTRIBUTES = 32;
const MAX_ATTRIBUTE_VALUE = 256;
const MAX_ROLE_PERMISSIONS = 100;
const MAX_MEMBER_ROLES = 32;
// Control and format characters.
const CONTROL = /\p{Cc}|\p{Cf}/u;

/** Whether `name` is a permission name: `resource:action`, lower-case, at most 128 characters. */
function isPermissionName(name: string): boolean {
  return name.length <= MAX_PERMISSION && PERMISSION.test(name);
}

/** A permission name as stored (trimmed), or why it is not one. */
export function normalizePermissionName(raw: string, field = 'name'): string | FieldViolation {
  const name = raw.trim();
  if (isPermissionName(name)) return name;
  return {
    field,
    description:
      name === ''
        ? 'a permission name is required'
        : 'resource:action, each part a lowercase letter then letters, digits, "_" or "-" (at most 128 characters)',
    reason: name === '' ? 'REQUIRED' : 'INVALID_FORMAT',
  };
}

/** A role's permission names, sorted without duplicates, or why they cannot be. */
export function normalizePermissionList(
  raw: readonly string[],
  field = 'permissions',
): string[] | FieldViolation {
  const invalid = raw.findIndex((p) => !isPermissionName(p));
  if (invalid >= 0)
    return normalizePermissionName(raw[invalid] ?? '', `${field}[${invalid}]`) as FieldViolation;
  const unique = [...new Set(raw)].sort();
  if (unique.length > MAX_ROLE_PERMISSIONS) {
    return {
      field,
      description: `at most ${MAX_ROLE_PERMISSIONS} permissions`,
      reason: 'TOO_MANY',
    };
  }
  return unique;
}

/**
 * A role name as stored, or why it is not one. A global role is granted through users.roles and
 * service_accounts.roles, whose names are at most 32 characters, so it must fit them.
 */
export function normalizeRoleName(
  raw: string,
  scope: RoleScope | null,
  field = 'name',
): string | FieldViolation {
  const name = raw.trim();
  if (scope === 'global' ? isRoleName(name) : ROLE_NAME.test(name)) return name;
  return {
    field,
    description:
      name === ''
        ? 'a role name is required'
        : `lowercase: a letter, then up to ${scope === 'global' ? 31 : 62} letters, digits, "_" or "-"`,
    reason: name === '' ? 'REQUIRED' : 'INVALID_FORMAT',
  };
}

/** An organisation's slug as stored (trimmed), or why it is not one. */
export function normalizeSlug(raw: string, field = 'slug'): string | FieldViolation {
  const slug = raw.trim();
  if (SLUG.test(slug)) return slug;
  return {
    field,
    description:
      slug === ''
        ? 'a slug is required'
        : 'lowercase letters, digits and "-", 2 to 63 characters, not starting with "-"',
    reason: slug === '' ? 'REQUIRED' : 'INVALID_FORMAT',
  };
}

/** Organisation attributes as stored (values NFC), or the violations. */
export function normalizeAttributes(
  raw: Record<string, string>,
  field = 'attributes',
): Record<string, string> | FieldViolation[] {
  const entries = Object.entries(raw);
  const violations: FieldViolation[] = [];
  if (entries.length > MAX_ATTRIBUTES) {
    violations.push({
      field,
      description: `at most ${MAX_ATTRIBUTES} attributes`,
      reason: 'TOO_MANY',
    });
  }
  const out: Record<string, string> = {};
  for (const [key, value] of entries.slice(0, MAX_ATTRIBUTES + 1)) {
    const shown = `${field}[${JSON.stringify(key.slice(0, 64))}]`;
    if (!ATTRIBUTE_KEY.test(key)) {
      violations.push({
        field: shown,
        description: 'a key is a lowercase letter, then up to 62 letters, digits, "_", "." or "-"',
        reason: 'INVALID_FORMAT',
      });
      continue;
    }
    const text = value.normalize('NFC');
    if ([...text].length > MAX_ATTRIBUTE_VALUE || CONTROL.test(text)) {
      violations.push({
        field: shown,
        description: `at most ${MAX_ATTRIBUTE_VALUE} characters, no control characters`,
        reason: 'INVALID_FORMAT',
      });
      continue;
    }
    out[key] = text;
  }
  return violations.length > 0 ? violations : out;
}

/** Role ids of a membership, normalised, sorted without duplicates; violations added. */
export function normalizeRoleIds(
  raw: readonly string[],
  violations: FieldViolation[],
  field = 'role_ids',
): string[] {
  const ids: string[] = [];
  for (const [i, value] of raw.entries()) {
    const id = checkId(value, `${field}[${i}]`, 'role');
    if (isViolation(id)) violations.push(id);
    else ids.push(id);
  }
  const unique = [...new Set(ids)].sort();
  if (unique.length > MAX_MEMBER_ROLES) {
    violations.push({
      field,
      description: `at most ${MAX_MEMBER_ROLES} roles`,
      reason: 'TOO_MANY',
    });
  }
  return unique;
}

/** The organisation and member of a membership request, or INVALID_ARGUMENT. */
export function requireMembership(
  input: { organizationId: string; userId: string; serviceAccountId: string },
  violations: FieldViolation[] = [],
): { organizationId: string; ref: MemberRef } {
  const organizationId = checkId(input.organizationId, 'organization_id', 'organization');
  if (isViolation(organizationId)) violations.push(organizationId);
  let ref: MemberRef | null = null;
  const hasUser = input.userId.trim() !== '';
  const hasAccount = input.serviceAccountId.trim() !== '';
  if (hasUser === hasAccount) {
    violations.push({
      field: 'user_id',
      description: 'set exactly one of user_id and service_account_id',
      reason: hasUser ? 'CONFLICT' : 'REQUIRED',
    });
  } else if (hasUser) {
    const id = checkId(input.userId, 'user_id', 'user');
    if (isViolation(id)) violations.push(id);
    else ref = { kind: 'user', id };
  } else {
    const id = checkId(input.serviceAccountId, 'service_account_id', 'service account');
    if (isViolation(id)) violations.push(id);
    else ref = { kind: 'service_account', id };
  }
  if (violations.length > 0 || isViolation(organizationId) || ref === null) {
    throw invalidArgument(violations);
  }
  return { organizationId, ref };
}
