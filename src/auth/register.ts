import { type FieldViolation, invalidArgument } from '../errors/AppError.ts';
import { insertAuditEvent } from '../storage/audit.ts';
import { insertUser, type UserRow } from '../storage/users.ts';
import type { AuthDeps, RequestInfo } from './AuthDeps.ts';
import { type IssuedTokens, issueSession } from './issueSession.ts';
import {
  isViolation,
  normalizeDisplayName,
  normalizeEmail,
  normalizeUsername,
} from './normalize.ts';

export interface RegisterInput {
  email: string;
  password: string;
  username?: string | undefined;
  displayName?: string | undefined;
}

/** Creates an account and its first session; EMAIL_TAKEN / USERNAME_TAKEN come from unique indexes. */
export async function register(
  deps: AuthDeps,
  input: RegisterInput,
  info: RequestInfo,
): Promise<{ user: UserRow; tokens: IssuedTokens }> {
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
  violations.push(
    ...deps.policy.check(input.password, {
      ...(isViolation(email) ? {} : { email: email.normalized }),
      ...(username === null || isViolation(username) ? {} : { username: username.normalized }),
    }),
  );
  if (
    violations.length > 0 ||
    isViolation(email) ||
    isViolation(username) ||
    isViolation(displayName)
  ) {
    throw invalidArgument(violations);
  }
  await deps.limits.admitAccount('register', email.normalized, info.clientIp);
  const passwordHash = await deps.hasher.hash(input.password);
  return deps.pool.transaction(async (tx) => {
    const user = await insertUser(tx, {
      email: email.display,
      emailNormalized: email.normalized,
      username: username?.display ?? null,
      usernameNormalized: username?.normalized ?? null,
      displayName,
      passwordHash,
      roles: [],
      emailVerified: false,
    });
    const { session, tokens } = await issueSession(tx, deps, user, info);
    await insertAuditEvent(tx, {
      action: 'register',
      outcome: 'success',
      actorUserId: user.id,
      subjectUserId: user.id,
      ...info,
      details: { session_id: session.id },
    });
    return { user, tokens };
  });
}
