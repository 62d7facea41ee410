import { AppError, invalidArgument } from '../errors/AppError.ts';
import { insertAuditEvent } from '../storage/audit.ts';
import {
  findUserByIdentifier,
  type UserRow,
  updateUserLoginFailed,
  updateUserLoginSucceeded,
} from '../storage/users.ts';
import type { AuthDeps, RequestInfo } from './AuthDeps.ts';
import { type IssuedTokens, issueSession } from './issueSession.ts';
import { normalizeIdentifier } from './normalize.ts';

export interface LoginInput {
  identifier: string;
  password: string;
}

/** The one answer for unknown user, wrong password, disabled or locked account. */
export function invalidCredentials(): AppError {
  return new AppError('INVALID_CREDENTIALS', 'invalid credentials');
}

/**
 * Signs in by email or username. Every failure is indistinguishable: the same error, and the
 * same work (an argon2 verify against a dummy hash when there is no account or no password).
 */
export async function login(
  deps: AuthDeps,
  input: LoginInput,
  info: RequestInfo,
): Promise<{ user: UserRow; tokens: IssuedTokens }> {
  const identifier = normalizeIdentifier(input.identifier);
  const violations = [];
  if (identifier === '' || identifier.length > 320) {
    violations.push({
      field: 'identifier',
      description: 'an email address or username is required',
    });
  }
  if (input.password === '' || input.password.length > deps.passwordMaxLength * 4) {
    violations.push({ field: 'password', description: 'a password is required' });
  }
  if (violations.length > 0) throw invalidArgument(violations);

  const user = await findUserByIdentifier(deps.pool, identifier);
  let verified = false;
  let upgradedHash: string | null = null;
  if (user?.password_hash) {
    const result = await deps.hasher.verify(user.password_hash, input.password);
    verified = result.ok;
    if (result.ok && result.needsRehash) upgradedHash = await deps.hasher.hash(input.password);
  } else {
    await deps.hasher.dummyVerify(input.password);
  }

  if (!user || !verified || user.status !== 'active') {
    await deps.pool.transaction(async (tx) => {
      if (user) await updateUserLoginFailed(tx, user.id);
      await insertAuditEvent(tx, {
        action: 'login',
        outcome: 'failure',
        subjectUserId: user?.id ?? null,
        ...info,
        details: {
          reason: !user
            ? 'unknown_account'
            : !verified
              ? 'wrong_password'
              : `account_${user.status}`,
        },
      });
    });
    throw invalidCredentials();
  }

  return deps.pool.transaction(async (tx) => {
    const updated = await updateUserLoginSucceeded(tx, user.id, upgradedHash);
    const { session, tokens } = await issueSession(tx, deps, updated, info);
    await insertAuditEvent(tx, {
      action: 'login',
      outcome: 'success',
      actorUserId: user.id,
      subjectUserId: user.id,
      ...info,
      details: { session_id: session.id, password_rehashed: upgradedHash !== null },
    });
    return { user: updated, tokens };
  });
}
