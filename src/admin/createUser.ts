import { checkNewAccount } from '../auth/checkNewAccount.ts';
import { isViolation } from '../auth/normalize.ts';
import { invalidArgument } from '../errors/AppError.ts';
import { insertUser, type UserRow } from '../storage/users.ts';
import type { AdminDeps } from './AdminDeps.ts';
import type { AuditScope } from './AuditScope.ts';
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
  audit: AuditScope,
  input: CreateUserInput,
): Promise<UserRow> {
  const { account, violations } = checkNewAccount(deps.policy, {
    ...input,
    password: input.initialPassword,
    passwordField: 'initial_password',
  });
  const roles = normalizeRoles(input.roles);
  if (isViolation(roles)) violations.push(roles);
  if (account === null || isViolation(roles)) throw invalidArgument(violations);
  const { email, username, displayName } = account;
  const passwordHash =
    input.initialPassword === undefined ? null : await deps.hasher.hash(input.initialPassword);
  return audit.transaction(async (tx) => {
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
    audit.note({
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
