import type { User } from '../domain/User.ts';
import { invalidArgument } from '../errors/AppError.ts';
import { recordAudit } from '../storage/audit.ts';
import { insertUser } from '../storage/users.ts';
import type { AdmitAccount, AuthDeps, RequestInfo } from './AuthDeps.ts';
import { checkNewAccount } from './checkNewAccount.ts';
import { type IssuedTokens, type IssueSessionDeps, issueSession } from './issueSession.ts';

type RegisterDeps = IssueSessionDeps & Pick<AuthDeps, 'pool' | 'policy' | 'hasher'>;

export interface RegisterInput {
  email: string;
  password: string;
  username?: string | undefined;
  displayName?: string | undefined;
}

/** Creates an account and its first session; EMAIL_TAKEN / USERNAME_TAKEN come from unique indexes. */
export async function register(
  deps: RegisterDeps,
  input: RegisterInput,
  info: RequestInfo,
  admitAccount: AdmitAccount,
): Promise<{ user: User; tokens: IssuedTokens }> {
  const { account, violations } = checkNewAccount(deps.policy, input);
  if (account === null) throw invalidArgument(violations);
  await admitAccount(account.email.normalized);
  const passwordHash = await deps.hasher.hash(input.password);
  return deps.pool.transaction(async (tx) => {
    const { user } = await insertUser(tx, {
      ...account,
      passwordHash,
      roles: [],
      emailVerified: false,
    });
    const { session, tokens } = await issueSession(tx, deps, user, info);
    await recordAudit(tx, 'register', {
      actor: user.id,
      request: info,
      details: { session_id: session.id },
    });
    return { user, tokens };
  });
}
