import { AppError, invalidArgument } from '../errors/AppError.ts';
import { invalidAccessToken } from '../errors/invalidAccessToken.ts';
import { recordAudit } from '../storage/audit.ts';
import type { Db } from '../storage/Db.ts';
import {
  joinOrganization,
  type LockedInvitation,
  lockInvitationByTokenHash,
  markInvitationAccepted,
} from '../storage/invitationAcceptance.ts';
import { findSessionById, updateSessionOrganization } from '../storage/sessions.ts';
import { findUserMembership } from '../storage/userMemberships.ts';
import { findUserById, markEmailVerified } from '../storage/users.ts';
import type { AuthDeps, RequestInfo } from './AuthDeps.ts';
import type { ActiveOrganization } from './activeOrganization.ts';
import { hashInvitationToken, isInvitationTokenShaped } from './invitationToken.ts';
import { type IssuedAccessToken, type IssueTokensDeps, issueAccessToken } from './issueSession.ts';
import type { UserPrincipal } from './Principal.ts';

/**
 * The one answer for a malformed, unknown, accepted, revoked or expired token, or one whose
 * organisation is no longer active: nothing tells a guesser which.
 */
function invalidInvitationToken(field: string): AppError {
  return new AppError('INVALID_INVITATION_TOKEN', 'the invitation is invalid or has expired', {
    fieldViolations: [
      { field, description: 'invalid or expired; ask for a new invitation', reason: 'INVALID' },
    ],
  });
}

/**
 * The hash of a well-formed invitation token: VALIDATION_FAILED when empty,
 * INVALID_INVITATION_TOKEN when it has not the shape of one (without any lookup).
 */
export function requireInvitationToken(token: string, field: string): Buffer {
  if (token === '') {
    throw invalidArgument([
      { field, description: 'an invitation token is required', reason: 'REQUIRED' },
    ]);
  }
  if (!isInvitationTokenShaped(token)) throw invalidInvitationToken(field);
  return hashInvitationToken(token);
}

/**
 * The open invitation of `tokenHash`, locked until the transaction ends, addressed to
 * `emailNormalized`: INVALID_INVITATION_TOKEN when there is no open one,
 * INVITATION_EMAIL_MISMATCH when it was sent to another address (the caller's transaction then
 * rolls back and the invitation stays open).
 */
export async function openInvitationFor(
  tx: Db,
  tokenHash: Buffer,
  emailNormalized: string,
  field: string,
): Promise<LockedInvitation> {
  const invitation = await lockInvitationByTokenHash(tx, tokenHash);
  if (invitation === null || !invitation.open) throw invalidInvitationToken(field);
  if (invitation.emailNormalized !== emailNormalized) {
    throw new AppError(
      'INVITATION_EMAIL_MISMATCH',
      'this invitation was sent to another email address; sign in with that address to accept it',
    );
  }
  return invitation;
}

/**
 * Accepts an open invitation (from openInvitationFor) for the user whose address it was sent
 * to: the address is verified (the token proves the mailbox), the user joins the organisation
 * with the invitation's roles (a union with an existing membership's), the invitation is used
 * up, and the acceptance is audited. Returns the organisation as a session's tokens carry it.
 */
export async function joinInvitedOrganization(
  tx: Db,
  invitation: LockedInvitation,
  userId: string,
  info: RequestInfo,
  sessionId: string | null,
): Promise<ActiveOrganization> {
  await markEmailVerified(tx, userId, invitation.emailNormalized);
  const membershipId = await joinOrganization(
    tx,
    invitation.organizationId,
    userId,
    invitation.roleIds,
  );
  await markInvitationAccepted(tx, invitation.id, userId);
  const membership = await findUserMembership(tx, userId, invitation.organizationId);
  await recordAudit(tx, 'invitation_accept', {
    actor: userId,
    request: info,
    details: {
      organization_id: invitation.organizationId,
      invitation_id: invitation.id,
      membership_id: membershipId,
      session_id: sessionId,
    },
  });
  return {
    id: invitation.organizationId,
    membershipId,
    roles: membership?.roleNames ?? [],
  };
}

/** What AcceptInvitation answers: the membership and a fresh access token for it. */
export interface AcceptedInvitation {
  organization: ActiveOrganization;
  token: IssuedAccessToken;
}

/**
 * AcceptInvitation for the signed-in caller, in one transaction: checks the token (shape
 * first, without a lookup), the address, joins the organisation, makes it the calling
 * session's active one, and returns a fresh access token for it (the refresh token unchanged).
 */
export async function acceptInvitation(
  deps: IssueTokensDeps & Pick<AuthDeps, 'pool'>,
  principal: UserPrincipal,
  token: string,
  info: RequestInfo,
): Promise<AcceptedInvitation> {
  const tokenHash = requireInvitationToken(token, 'token');
  return deps.pool.transaction(async (tx) => {
    const session = await findSessionById(tx, principal.sessionId, true);
    if (session === null || session.revokedAt !== null || session.userId !== principal.userId) {
      throw invalidAccessToken();
    }
    const user = (await findUserById(tx, principal.userId, { forUpdate: true }))?.user;
    if (user?.status !== 'active') throw invalidAccessToken();
    const invitation = await openInvitationFor(tx, tokenHash, user.emailNormalized, 'token');
    const organization = await joinInvitedOrganization(tx, invitation, user.id, info, session.id);
    await updateSessionOrganization(tx, session.id, organization.id);
    return {
      organization,
      token: await issueAccessToken(deps, user, session, organization),
    };
  });
}
