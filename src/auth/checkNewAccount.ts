import type { FieldViolation } from '../errors/AppError.ts';
import {
  isViolation,
  type NormalizedEmail,
  normalizeDisplayName,
  normalizeEmail,
  normalizeUsername,
} from './normalize.ts';
import type { PasswordPolicy } from './passwordPolicy.ts';

export interface NewAccount {
  email: NormalizedEmail;
  username: { display: string; normalized: string } | null;
  displayName: string;
}

/**
 * Normalises and checks what every new account has (Register, admin CreateUser): email,
 * optional username, display name and, when given, the password against the policy (with the
 * account's own email and username). Returns the account, or null and every violation found.
 */
export function checkNewAccount(
  policy: PasswordPolicy,
  input: {
    email: string;
    username?: string | undefined;
    displayName?: string | undefined;
    password?: string | undefined;
    passwordField?: string;
  },
): { account: NewAccount | null; violations: FieldViolation[] } {
  const violations: FieldViolation[] = [];
  const email = normalizeEmail(input.email);
  if (isViolation(email)) violations.push(email);
  const username =
    input.username === undefined || input.username.trim() === ''
      ? null
      : normalizeUsername(input.username);
  if (isViolation(username)) violations.push(username);
  const displayName = normalizeDisplayName(input.displayName ?? '');
  if (isViolation(displayName)) violations.push(displayName);
  if (input.password !== undefined) {
    violations.push(
      ...policy.check(
        input.password,
        {
          ...(isViolation(email) ? {} : { email: email.normalized }),
          ...(username === null || isViolation(username) ? {} : { username: username.normalized }),
        },
        input.passwordField,
      ),
    );
  }
  if (
    violations.length > 0 ||
    isViolation(email) ||
    isViolation(username) ||
    isViolation(displayName)
  ) {
    return { account: null, violations };
  }
  return { account: { email, username, displayName }, violations };
}
