import type { AdminDeps } from '../admin/AdminDeps.ts';
import type { AuditScope } from '../admin/AuditScope.ts';
import { checkId } from '../admin/requireUserId.ts';
import type { AdmitAccount } from '../auth/AuthDeps.ts';
import { newInvitationToken } from '../auth/invitationToken.ts';
import { isViolation, normalizeEmail } from '../auth/normalize.ts';
import type { Principal } from '../auth/Principal.ts';
import type { CallAccess } from '../domain/CallAccess.ts';
import type { Invitation, Inviter } from '../domain/Invitation.ts';
import { AppError, type FieldViolation, invalidArgument } from '../errors/AppError.ts';
import type { AccountMail } from '../mail/createAccountMail.ts';
import { createdAtPage } from '../paging/createPageTokens.ts';
import { pageSize } from '../paging/pageSize.ts';
import {
  findInvitationsPage,
  insertInvitation,
  revokeInvitation as revokeInvitationRow,
  revokeOpenInvitationOf,
} from '../storage/invitations.ts';
import { getOrganizationById } from '../storage/organizations.ts';
import { insertOutboxMessage } from '../storage/outbox.ts';
import { normalizeRoleIds } from './checkOrgFields.ts';
import { requireGrantWithin, requireWithin } from './delegatedRules.ts';
import { requireOrganizationRoles } from './members.ts';
import { requireOrganizationId } from './organizations.ts';

export interface CreateInvitationInput {
  organizationId: string;
  email: string;
  roleIds: readonly string[];
}

/** What the invitation use cases need: reads, page tokens, and mail for the outbox. */
export type InvitationDeps = Pick<AdminDeps, 'pool' | 'pageTokens'> & { mail: AccountMail };

/** Who invites, as the invitation records it. */
function inviterOf(principal: Principal): NonNullable<Inviter> {
  return principal.kind === 'service_account'
    ? { kind: 'service_account', id: principal.serviceAccountId }
    : { kind: 'user', id: principal.userId };
}

/**
 * Invites an address to an organisation with organisation-scope roles, in one audited
 * transaction: the organisation (locked, so two invitations of one address cannot both be
 * open), its roles (a delegated caller grants only within its own permissions), the open
 * invitation of the address revoked, the new one stored with its token's hash, and the mail
 * carrying the token queued in the outbox. The token leaves only in that mail. The caller's
 * invitation budget is spent once the request is valid: each call sends mail.
 */
export async function createInvitation(
  deps: InvitationDeps,
  ctx: { audit: AuditScope; access: CallAccess; principal: Principal; admitAccount: AdmitAccount },
  input: CreateInvitationInput,
): Promise<Invitation> {
  const { audit, access } = ctx;
  const violations: FieldViolation[] = [];
  const organizationId = checkId(input.organizationId, 'organization_id', 'organization');
  if (isViolation(organizationId)) violations.push(organizationId);
  const email = normalizeEmail(input.email);
  if (isViolation(email)) violations.push(email);
  const roleIds = normalizeRoleIds(input.roleIds, violations);
  if (violations.length > 0 || isViolation(organizationId) || isViolation(email)) {
    throw invalidArgument(violations);
  }
  requireWithin(access, organizationId);
  audit.note({ details: { organization_id: organizationId } });
  const inviter = inviterOf(ctx.principal);
  await ctx.admitAccount(`${inviter.kind}:${inviter.id}`);

  const { token, hash } = newInvitationToken();
  const ttlSec = deps.mail.ttlSec('invitation');
  const invitation = await audit.transaction(async (tx) => {
    const org = await getOrganizationById(tx, organizationId, { lock: 'update' });
    if (org.status !== 'active') {
      throw new AppError(
        'ORGANIZATION_DISABLED',
        'the organisation is disabled: nobody could accept an invitation to it',
      );
    }
    await requireOrganizationRoles(tx, roleIds);
    await requireGrantWithin(tx, access, roleIds);
    const replaced = await revokeOpenInvitationOf(tx, organizationId, email.normalized);
    const created = await insertInvitation(tx, {
      organizationId,
      emailNormalized: email.normalized,
      roleIds,
      tokenHash: hash,
      invitedBy: inviter,
      ttlSec,
    });
    const message = deps.mail.compose('invitation', token, {
      organizationName: org.displayName === '' ? org.slug : org.displayName,
    });
    await insertOutboxMessage(tx, {
      kind: message.kind,
      recipient: email.display,
      subject: message.subject,
      text: message.text,
      html: message.html,
      messageId: message.messageId,
      ttlSec,
    });
    audit.note({
      details: {
        invitation_id: created.id,
        role_ids: roleIds.join(','),
        ...(replaced === null ? {} : { replaced_invitation_id: replaced }),
      },
    });
    return created;
  });
  deps.mail.queued();
  return invitation;
}

/**
 * One page of an organisation's invitations (every status) in (created_at, id) order, by
 * keyset: the page token carries the last row's position, signed with the organisation id.
 */
export async function listInvitations(
  deps: Pick<AdminDeps, 'pool' | 'pageTokens'>,
  access: CallAccess,
  input: { organizationId: string; pageSize: number; pageToken: string },
): Promise<{ invitations: Invitation[]; nextPageToken: string }> {
  const limit = pageSize(input.pageSize);
  const organizationId = requireOrganizationId(input.organizationId);
  if (isViolation(limit)) throw invalidArgument([limit]);
  requireWithin(access, organizationId);
  const { page, nextPageToken } = await createdAtPage(
    deps.pageTokens,
    'invitations',
    [organizationId],
    input.pageToken,
    limit,
    async (after, rows) => {
      await getOrganizationById(deps.pool, organizationId);
      return findInvitationsPage(deps.pool, organizationId, after, rows);
    },
  );
  return { invitations: page.map((e) => e.invitation), nextPageToken };
}

/** Revokes an open (or expired) invitation of the organisation; others are returned as they are. */
export async function revokeInvitation(
  audit: AuditScope,
  access: CallAccess,
  input: { organizationId: string; invitationId: string },
): Promise<Invitation> {
  const violations: FieldViolation[] = [];
  const organizationId = checkId(input.organizationId, 'organization_id', 'organization');
  if (isViolation(organizationId)) violations.push(organizationId);
  const invitationId = checkId(input.invitationId, 'invitation_id', 'invitation');
  if (isViolation(invitationId)) violations.push(invitationId);
  if (isViolation(organizationId) || isViolation(invitationId)) throw invalidArgument(violations);
  requireWithin(access, organizationId);
  audit.note({ details: { organization_id: organizationId, invitation_id: invitationId } });
  return audit.transaction(async (tx) => {
    await getOrganizationById(tx, organizationId, { lock: 'share' });
    return revokeInvitationRow(tx, organizationId, invitationId);
  });
}
