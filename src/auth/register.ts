import type { User } from '../domain/User.ts';
import { invalidArgument } from '../errors/AppError.ts';
import { recordAudit } from '../storage/audit.ts';
import { insertUser } from '../storage/users.ts';
import type { AdmitAccount, AuthDeps, RequestInfo } from './AuthDeps.ts';
import {
  joinInvitedOrganization,
  openInvitationFor,
  requireInvitationToken,
} from './acceptInvitation.ts';
import { checkNewAccount } from './checkNewAccount.ts';
import { type IssuedTokens, type IssueSessionDeps, issueSession } from './issueSession.ts';

type RegisterDeps = IssueSessionDeps & Pick<AuthDeps, 'pool' | 'policy' | 'hasher'>;

export interface RegisterInput {
  email: string;
  password: string;
  username?: string | undefined;
  displayName?: string | undefined;
  /** An invitation to accept with the registration ('' or undefined for none). */
  invitationToken?: string | undefined;
}

/**
 * Creates an account and its first session; EMAIL_TAKEN / USERNAME_TAKEN come from unique
 * indexes. With an invitation token, the invitation is accepted in the same transaction (its
 * address must be the registration's, else INVITATION_EMAIL_MISMATCH and no account): the
 * address starts verified, the user joins the organisation, and the session acts in it.
 */
export async function register(
  deps: RegisterDeps,
  input: RegisterInput,
  info: RequestInfo,
  admitAccount: AdmitAccount,
): Promise<{ user: User; tokens: IssuedTokens }> {
  const { account, violations } = checkNewAccount(deps.policy, input);
  if (account === null) throw invalidArgument(violations);
  const invitationToken = input.invitationToken ?? '';
  const invitationHash =
    invitationToken === '' ? null : requireInvitationToken(invitationToken, 'invitation_token');
  await admitAccount(account.email.normalized);
  const passwordHash = await deps.hasher.hash(input.password);
  return deps.pool.transaction(async (tx) => {
    const invitation =
      invitationHash === null
        ? null
        : await openInvitationFor(tx, invitationHash, account.email.normalized, 'invitation_token');
    // The invitation's token proved the mailbox: the address starts verified.
    const { user } = await insertUser(tx, {
      ...account,
      passwordHash,
      roles: [],
      emailVerified: invitation !== null,
    });
    const organization =
      invitation === null
        ? null
        : await joinInvitedOrganization(tx, invitation, user.id, info, null);
    const { session, tokens } = await issueSession(tx, deps, user, info, organization);
    await recordAudit(tx, 'register', {
      actor: user.id,
      request: info,
      details: { session_id: session.id, organization_id: organization?.id ?? null },
    });
    return { user, tokens };
  });
}
