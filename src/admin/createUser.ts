import {
  isViolation,
  normalizeDisplayName,
  normalizeEmail,
  normalizeUsername,
} from '../auth/normalize.ts';
import { type FieldViolation, invalidArgument } from '../errors/AppError.ts';
import { insertUser, type UserRow } from '../storage/users.ts';
import type { AdminDeps } from './AdminDeps.ts';
import type { AdminCall } from './createAdminCallRunner.ts';
import { normalizeRoles } from './normalizeRoles.ts';

export interface CreateUserInput {
  email: string;
  username?: string | undefined;
  displayName?: string | undefined;
  roles: readonly string[];
  /** Checked against the password policy; without it the account has no password. */
  initialPassword?: string | undefined;
  emailVerified: boolean;
}

/** Creates an account (no session); EMAIL_TAKEN / USERNAME_TAKEN come from the unique indexes. */
export async function createUser(
  deps: AdminDeps,
  call: AdminCall,
  input: CreateUserInput,
): Promise<UserRow> {
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
  const roles = normalizeRoles(input.roles);
  if (isViolation(roles)) violations.push(roles);
  if (input.initialPassword !== undefined) {
    violations.push(
      ...deps.policy.check(
        input.initialPassword,
        {
          ...(isViolation(email) ? {} : { email: email.normalized }),
          ...(username === null || isViolation(username) ? {} : { username: username.normalized }),
        },
        'initial_password',
      ),
    );
  }
  if (
    violations.length > 0 ||
    isViolation(email) ||
    isViolation(username) ||
    isViolation(displayName) ||
    isViolation(roles)
  ) {
    throw invalidArgument(violations);
  }
  const passwordHash =
    input.initialPassword === undefined ? null : await deps.hasher.hash(input.initialPassword);
  return call.transaction(async (tx) => {
    const user = await insertUser(tx, {
      email: email.display,
      emailNormalized: email.normalized,
      username: username?.display ?? null,
      usernameNormalized: username?.normalized ?? null,
      displayName,
      passwordHash,
      roles,
      emailVerified: input.emailVerified,
    });
    call.note({
      subjectUserId: user.id,
      details: {
        roles: roles.join(','),
        has_password: passwordHash !== null,
        email_verified: input.emailVerified,
      },
    });
    return user;
  });
}
