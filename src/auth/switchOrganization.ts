import { invalidArgument } from '../errors/AppError.ts';
import { invalidAccessToken } from '../errors/invalidAccessToken.ts';
import { recordAudit } from '../storage/audit.ts';
import { findSessionById, updateSessionOrganization } from '../storage/sessions.ts';
import { findUserById } from '../storage/users.ts';
import type { AuthDeps, RequestInfo } from './AuthDeps.ts';
import { requireActiveMembership } from './activeOrganization.ts';
import { type IssuedAccessToken, type IssueTokensDeps, issueAccessToken } from './issueSession.ts';
import { isUuid } from './normalize.ts';
import type { UserPrincipal } from './Principal.ts';

/**
 * Sets the calling session's active organisation ('' clears it) after checking, as stored now,
 * that the caller is a member of it and it is active (NOT_A_MEMBER, ORGANIZATION_DISABLED), and
 * returns a fresh access token for it; the refresh token is unchanged, so later refreshes keep
 * the new organisation. The change and its audit row commit together; the session row is locked
 * meanwhile, so concurrent switches of one session apply one after the other.
 */
export async function switchOrganization(
  deps: IssueTokensDeps & Pick<AuthDeps, 'pool'>,
  principal: UserPrincipal,
  organizationId: string,
  info: RequestInfo,
): Promise<IssuedAccessToken> {
  if (organizationId !== '' && !isUuid(organizationId)) {
    throw invalidArgument([
      {
        field: 'organization_id',
        description: 'must be an organisation id (a UUID), or empty to clear',
        reason: 'INVALID_FORMAT',
      },
    ]);
  }
  return deps.pool.transaction(async (tx) => {
    const session = await findSessionById(tx, principal.sessionId, true);
    if (session === null || session.revokedAt !== null || session.userId !== principal.userId) {
      throw invalidAccessToken();
    }
    const user = (await findUserById(tx, principal.userId))?.user;
    if (user?.status !== 'active') throw invalidAccessToken();
    const organization =
      organizationId === '' ? null : await requireActiveMembership(tx, user.id, organizationId);
    await updateSessionOrganization(tx, session.id, organization?.id ?? null);
    await recordAudit(tx, 'organization_switch', {
      actor: user.id,
      request: info,
      details: {
        session_id: session.id,
        organization_id: organization?.id ?? null,
        previous_organization_id: session.organizationId,
      },
    });
    return issueAccessToken(deps, user, session, organization);
  });
}
