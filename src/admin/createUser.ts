import { checkNewAccount } from '../auth/checkNewAccount.ts';
import { isViolation } from '../auth/normalize.ts';
import { type ManagedUser, toManagedUser } from '../domain/User.ts';
import { invalidArgument } from '../errors/AppError.ts';
import { insertUser } from '../storage/users.ts';
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
  deps: Pick<AdminDeps, 'policy' | 'hasher'>,
  audit: AuditScope,
  input: CreateUserInput,
): Promise<ManagedUser> {
  const { account, violations } = checkNewAccount(deps.policy, {
    ...input,
    password: input.initialPassword,
    passwordField: 'initial_password',
  });
  const roles = normalizeRoles(input.roles);
  if (isViolation(roles)) violations.push(roles);
  if (account === null || isViolation(roles)) throw invalidArgument(violations);
  const passwordHash =
    input.initialPassword === undefined ? null : await deps.hasher.hash(input.initialPassword);
  const created = await audit.transaction(async (tx) => {
    const created = await insertUser(tx, {
      ...account,
      passwordHash,
      roles,
      emailVerified: input.emailVerified,
    });
    audit.note({
      subjectUserId: created.user.id,
      details: {
        roles: roles.join(','),
        has_password: passwordHash !== null,
        email_verified: input.emailVerified,
      },
    });
    return created;
  });
  return toManagedUser(created, deps.hasher);
}
