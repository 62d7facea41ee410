import { randomBytes } from 'node:crypto';
import type { RequestInfo } from '../auth/AuthDeps.ts';
import type { PasswordHasher } from '../auth/createPasswordHasher.ts';
import { isViolation, normalizeEmail } from '../auth/normalize.ts';
import type { PasswordPolicy } from '../auth/passwordPolicy.ts';
import type { User } from '../domain/User.ts';
import { type FieldViolation, invalidArgument } from '../errors/AppError.ts';
import { recordAudit } from '../storage/audit.ts';
import type { DatabasePool } from '../storage/createDatabase.ts';
import {
  findUserByIdentifier,
  insertUser,
  lockAdminMembership,
  updateUserProfile,
  updateUserStatus,
} from '../storage/users.ts';
import { normalizeRoles } from './normalizeRoles.ts';

export interface BootstrapDeps {
  pool: DatabasePool;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
}

export interface BootstrapInput {
  email: string;
  roles: readonly string[];
  /** For a new account; generated (and returned once) when absent. */
  password?: string | undefined;
  /** Where the call came from, for the audit event: 'cli' or 'embedded'. */
  source: string;
}

export interface BootstrapResult {
  user: User;
  created: boolean;
  /** The generated password: show it once, it is stored nowhere else. */
  generatedPassword: string | null;
  /** The account was disabled and has been enabled again. */
  enabled: boolean;
}

/** A random password (144 bits) that the policy accepts for this account. */
export function generatePassword(policy: PasswordPolicy, email: string): string {
  for (;;) {
    const password = randomBytes(18).toString('base64url');
    if (policy.check(password, { email }).length === 0) return password;
  }
}

/**
 * The way in: creates an account holding `roles` (with the given or a generated password), or
 * adds `roles` to the live account with this email (enabling it if it was disabled; its
 * password is left alone). Audited as `admin_bootstrap`. No default password exists anywhere.
 */
export async function createOrPromoteAdmin(
  deps: BootstrapDeps,
  input: BootstrapInput,
  info: RequestInfo,
): Promise<BootstrapResult> {
  const violations: FieldViolation[] = [];
  const email = normalizeEmail(input.email);
  if (isViolation(email)) violations.push(email);
  const roles = normalizeRoles(input.roles);
  if (isViolation(roles)) violations.push(roles);
  if (isViolation(email) || isViolation(roles)) throw invalidArgument(violations);

  const existing = await findUserByIdentifier(deps.pool, email.normalized);
  let generatedPassword: string | null = null;
  let passwordHash: string | null = null;
  if (existing === null) {
    if (input.password !== undefined) {
      const problems = deps.policy.check(input.password, { email: email.normalized });
      if (problems.length > 0) throw invalidArgument(problems);
    } else {
      generatedPassword = generatePassword(deps.policy, email.normalized);
    }
    passwordHash = await deps.hasher.hash(input.password ?? generatedPassword ?? '');
  } else if (input.password !== undefined) {
    throw invalidArgument([
      {
        field: 'password',
        description:
          'the account exists and keeps its password; omit the password to promote it, or use the password reset flow',
      },
    ]);
  }

  return deps.pool.transaction(async (tx) => {
    await lockAdminMembership(tx);
    const current = (await findUserByIdentifier(tx, email.normalized))?.user ?? null;
    let user: User;
    let enabled = false;
    if (current === null) {
      if (passwordHash === null) throw new Error('the account disappeared; run the command again');
      const created = await insertUser(tx, {
        email,
        username: null,
        displayName: '',
        passwordHash,
        roles,
        emailVerified: false,
      });
      user = created.user;
    } else {
      const merged = [...new Set([...current.roles, ...roles])].sort();
      user = (await updateUserProfile(tx, current.id, { roles: merged })).user;
      if (user.status === 'disabled') {
        user = (await updateUserStatus(tx, current.id, 'active')).user;
        enabled = true;
      }
    }
    await recordAudit(tx, 'admin_bootstrap', {
      subject: user.id,
      request: info,
      details: {
        source: input.source,
        created: current === null,
        roles: user.roles.join(','),
        enabled,
      },
    });
    return { user, created: current === null, generatedPassword, enabled };
  });
}
