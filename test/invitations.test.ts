import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import {
  InvitationStatus,
  Organization,
  type OrganizationAdminServiceClient,
  type OrganizationAdminServiceService,
  OrganizationStatus,
  RoleScope,
} from '../src/gen/gatehouse/admin/v1/organization_admin_service.ts';
import { expectRpcError } from './helpers/rpcError.ts';
import { SmtpReceiver, tokenFromLink } from './helpers/smtpReceiver.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { registerUser } from './helpers/users.ts';

type Method = keyof typeof OrganizationAdminServiceService & string;

const INVITATION_URL = 'https://app.example.com/join?lang=en';
const sha256 = (s: string) => createHash('sha256').update(s).digest();

describe('invitations', () => {
  let smtp: SmtpReceiver;
  let gh: Gatehouse;
  let adminToken: string;
  let managerToken: string;
  let managerId: string;
  let orgId: string;
  let otherOrgId: string;
  const roles = { manager: '', reader: '', global: '' };

  const org = <K extends Method>(
    method: K,
    req: Parameters<typeof call<OrganizationAdminServiceClient, K>>[2],
    token: string = managerToken,
    requestId: string = randomUUID(),
  ) => call(gh.organizations, method, req, { token, metadata: { 'x-request-id': requestId } });
  const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
  const email = () => `${unique('guest')}@Example.test`;
  const invite = (organizationId: string, address: string, roleIds: string[], token?: string) =>
    org('createInvitation', { organizationId, email: address, roleIds }, token);

  before(async () => {
    smtp = await SmtpReceiver.start();
    gh = await startGatehouse({
      SMTP_URL: smtp.url,
      SMTP_FROM: 'Acme Accounts <accounts@acme.test>',
      MAIL_PRODUCT_NAME: 'Acme',
      INVITATION_URL,
      INVITATION_TTL_HOURS: '48',
      MAIL_POLL_INTERVAL_MS: '100',
    });
    const admin = await registerUser(gh);
    await gh.db.query(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [admin.user.id]);
    adminToken = admin.tokens.accessToken;
    const role = async (
      name: string,
      permissions: string[],
      scope: RoleScope = RoleScope.ROLE_SCOPE_ORGANIZATION,
    ) =>
      (
        await org(
          'createRole',
          { name: unique(name), scope, permissions, description: '' },
          adminToken,
        )
      ).role?.id ?? assert.fail('no role');
    roles.manager = await role('manager', ['org:manage']);
    roles.reader = await role('reader', []);
    roles.global = await role('global', [], RoleScope.ROLE_SCOPE_GLOBAL);
    const newOrg = async (displayName: string) =>
      (
        await org(
          'createOrganization',
          { slug: unique('hotel'), displayName, attributes: {} },
          adminToken,
        )
      ).organization?.id ?? assert.fail('no organisation');
    orgId = await newOrg('Hotel Alpha & Spa');
    otherOrgId = await newOrg('Hotel Beta');
    const manager = await registerUser(gh);
    managerId = manager.user.id;
    managerToken = manager.tokens.accessToken;
    await org(
      'addMember',
      { organizationId: orgId, userId: managerId, serviceAccountId: '', roleIds: [roles.manager] },
      adminToken,
    );
  });
  after(async () => {
    try {
      await gh?.stop();
    } finally {
      await smtp?.stop();
    }
  });

  it('stores an open invitation and mails its single token, naming the organisation', async () => {
    const address = email();
    const requestId = randomUUID();
    const res = await org(
      'createInvitation',
      { organizationId: orgId, email: `  ${address} `, roleIds: [roles.reader] },
      managerToken,
      requestId,
    );
    const inv = res.invitation ?? assert.fail('no invitation');
    assert.equal(inv.organizationId, orgId);
    assert.equal(inv.email, address.toLowerCase(), 'the address is normalised');
    assert.deepEqual(inv.roleIds, [roles.reader]);
    assert.equal(inv.status, InvitationStatus.INVITATION_STATUS_OPEN);
    assert.equal(inv.invitedByUserId, managerId);
    assert.equal(inv.invitedByServiceAccountId, '');
    assert.equal(inv.acceptTime, undefined);
    const lifetime = (inv.expireTime?.getTime() ?? 0) - (inv.createTime?.getTime() ?? 0);
    assert.equal(lifetime, 48 * 3600 * 1000, 'INVITATION_TTL_HOURS');

    const mail = await smtp.next(address);
    assert.equal(mail.subject, 'Hotel Alpha & Spa invites you to Acme');
    assert.match(mail.text, /Hotel Alpha & Spa invites you to join it on Acme/);
    assert.match(mail.text, /within 2 days/);
    const { link, token } = tokenFromLink(mail.text, INVITATION_URL);
    assert.equal(link, `${INVITATION_URL}&token=${token}`);
    assert.match(token, /^ghin_[A-Za-z0-9_-]{43}$/);
    assert.ok(mail.html.includes('Hotel Alpha &amp; Spa'), 'the name is escaped in HTML');
    assert.ok(!JSON.stringify(res).includes(token), 'the token is never in the response');
    const [row] = await gh.db.query<{ token_hash: Buffer; email_normalized: string }>(
      'SELECT token_hash, email_normalized FROM invitations WHERE id = $1',
      [inv.id],
    );
    assert.deepEqual(row?.token_hash, sha256(token), 'only the SHA-256 of the token is stored');
    const [audit] = await gh.db.query<{
      outcome: string;
      organization_id: string;
      details: Record<string, unknown>;
    }>(
      `SELECT outcome, organization_id::text, details FROM audit_events
       WHERE request_id = $1 AND action = 'invitation_create'`,
      [requestId],
    );
    assert.equal(audit?.outcome, 'success');
    assert.equal(audit?.organization_id, orgId);
    assert.equal(audit?.details.invitation_id, inv.id);
    assert.equal(audit?.details.access, 'permission');
    assert.ok(!JSON.stringify(audit).includes(token), 'no token in the audit row');
  });

  it('replaces the open invitation of an address: the old one is revoked, a new token mailed', async () => {
    const address = email();
    const first = (await invite(orgId, address, [])).invitation;
    const firstToken = tokenFromLink((await smtp.next(address, 1)).text, INVITATION_URL).token;
    const requestId = randomUUID();
    const second = (
      await org(
        'createInvitation',
        { organizationId: orgId, email: address.toUpperCase(), roleIds: [roles.reader] },
        managerToken,
        requestId,
      )
    ).invitation;
    const secondToken = tokenFromLink((await smtp.next(address, 2)).text, INVITATION_URL).token;
    assert.notEqual(second?.id, first?.id);
    assert.notEqual(secondToken, firstToken);
    const rows = await gh.db.query<{ id: string; revoked: boolean; token_hash: Buffer }>(
      `SELECT id, revoked_at IS NOT NULL AS revoked, token_hash FROM invitations
       WHERE organization_id = $1 AND email_normalized = $2 ORDER BY created_at, id`,
      [orgId, address.toLowerCase()],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    assert.equal(rows.length, 2);
    assert.equal(byId.get(first?.id ?? '')?.revoked, true, 'the first is revoked');
    assert.equal(byId.get(second?.id ?? '')?.revoked, false);
    assert.deepEqual(byId.get(second?.id ?? '')?.token_hash, sha256(secondToken));
    const [audit] = await gh.db.query<{ details: Record<string, unknown> }>(
      'SELECT details FROM audit_events WHERE request_id = $1',
      [requestId],
    );
    assert.equal(audit?.details.replaced_invitation_id, first?.id);
    // Another organisation's invitation of the same address is its own.
    await invite(otherOrgId, address, [], adminToken);
    const open = await gh.db.query(
      `SELECT 1 FROM invitations WHERE email_normalized = $1
       AND accepted_at IS NULL AND revoked_at IS NULL`,
      [address.toLowerCase()],
    );
    assert.equal(open.length, 2);
  });

  it('revokes an invitation idempotently, only within its organisation', async () => {
    const address = email();
    const inv = (await invite(orgId, address, [])).invitation ?? assert.fail('no invitation');
    await expectRpcError(
      org('revokeInvitation', { organizationId: otherOrgId, invitationId: inv.id }, adminToken),
      status.NOT_FOUND,
      'INVITATION_NOT_FOUND',
    );
    await expectRpcError(
      org('revokeInvitation', { organizationId: orgId, invitationId: randomUUID() }),
      status.NOT_FOUND,
      'INVITATION_NOT_FOUND',
    );
    const bad = await expectRpcError(
      org('revokeInvitation', { organizationId: orgId, invitationId: 'nope' }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.deepEqual(
      bad.fieldViolations?.map((v) => v.field),
      ['invitation_id'],
    );
    const revoked = (await org('revokeInvitation', { organizationId: orgId, invitationId: inv.id }))
      .invitation;
    assert.equal(revoked?.status, InvitationStatus.INVITATION_STATUS_REVOKED);
    assert.ok(revoked?.revokeTime);
    const again = (await org('revokeInvitation', { organizationId: orgId, invitationId: inv.id }))
      .invitation;
    assert.equal(again?.status, InvitationStatus.INVITATION_STATUS_REVOKED);
    assert.equal(again?.revokeTime?.getTime(), revoked?.revokeTime?.getTime(), 'unchanged');
  });

  it('lists an organisation’s invitations by pages, with their status', async () => {
    const listOrg =
      (
        await org(
          'createOrganization',
          { slug: unique('list'), displayName: 'Listed', attributes: {} },
          adminToken,
        )
      ).organization?.id ?? assert.fail('no organisation');
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      created.push((await invite(listOrg, email(), [], adminToken)).invitation?.id ?? '');
    }
    // One expired: created and expiring in the past (the table requires expiry after creation).
    await gh.db.query(
      `UPDATE invitations SET created_at = created_at - interval '3 days',
                              expires_at = created_at - interval '2 days'
       WHERE id = $1`,
      [created[0]],
    );
    const seen: { id: string; status: InvitationStatus }[] = [];
    let pageToken = '';
    let pages = 0;
    do {
      const page = await org(
        'listInvitations',
        { organizationId: listOrg, pageSize: 2, pageToken },
        adminToken,
      );
      assert.ok(page.invitations.length <= 2);
      seen.push(...page.invitations.map((i) => ({ id: i.id, status: i.status })));
      pageToken = page.nextPageToken;
      pages += 1;
    } while (pageToken !== '' && pages < 10);
    assert.deepEqual(seen.map((s) => s.id).sort(), [...created].sort(), 'each once');
    assert.equal(seen[0]?.id, created[0], 'oldest first');
    assert.equal(seen[0]?.status, InvitationStatus.INVITATION_STATUS_EXPIRED);
    assert.ok(seen.slice(1).every((s) => s.status === InvitationStatus.INVITATION_STATUS_OPEN));
    const first = await org(
      'listInvitations',
      { organizationId: listOrg, pageSize: 2, pageToken: '' },
      adminToken,
    );
    await expectRpcError(
      org(
        'listInvitations',
        { organizationId: orgId, pageSize: 2, pageToken: first.nextPageToken },
        adminToken,
      ),
      status.INVALID_ARGUMENT,
      'INVALID_PAGE_TOKEN',
    );
    // An expired invitation no longer blocks a new one of its address.
    const [expired] = await gh.db.query<{ email_normalized: string }>(
      'SELECT email_normalized FROM invitations WHERE id = $1',
      [created[0]],
    );
    const renewed = await invite(listOrg, expired?.email_normalized ?? '', [], adminToken);
    assert.equal(renewed.invitation?.status, InvitationStatus.INVITATION_STATUS_OPEN);
  });

  it('validates the request and its roles, and refuses a disabled organisation', async () => {
    const bad = await expectRpcError(
      invite(orgId, 'not an address', [roles.reader, 'x']),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.deepEqual(bad.fieldViolations?.map((v) => v.field).sort(), ['email', 'role_ids[1]']);
    await expectRpcError(
      invite(orgId, email(), [randomUUID()]),
      status.NOT_FOUND,
      'ROLE_NOT_FOUND',
    );
    const scope = await expectRpcError(
      invite(orgId, email(), [roles.global], adminToken),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.deepEqual(
      scope.fieldViolations?.map((v) => v.field),
      ['role_ids[0]'],
    );
    const disabled = (
      await org(
        'createOrganization',
        { slug: unique('off'), displayName: 'Off', attributes: {} },
        adminToken,
      )
    ).organization;
    await org(
      'updateOrganization',
      {
        organization: Organization.fromPartial({
          ...disabled,
          status: OrganizationStatus.ORGANIZATION_STATUS_DISABLED,
        }),
        updateMask: ['status'],
      },
      adminToken,
    );
    await expectRpcError(
      invite(disabled?.id ?? '', email(), [], adminToken),
      status.FAILED_PRECONDITION,
      'ORGANIZATION_DISABLED',
    );
    const none = await gh.db.query('SELECT 1 FROM invitations WHERE organization_id = $1', [
      disabled?.id,
    ]);
    assert.equal(none.length, 0);
  });
  it('the mailed link is accepted once, end to end: member with its roles, organisation active', async () => {
    const guest = await registerUser(gh);
    const address = guest.user.email;
    await invite(orgId, address, [roles.reader]);
    const { token } = tokenFromLink((await smtp.next(address)).text, INVITATION_URL);
    const accepted = await call(
      gh.auth,
      'acceptInvitation',
      { token },
      { token: guest.tokens.accessToken },
    );
    assert.equal(accepted.organizationId, orgId);
    const validated = await call(gh.auth, 'validateToken', { accessToken: accepted.accessToken });
    assert.equal(validated.organizationId, orgId, 'the session now acts in the organisation');
    const members = await org('listMembers', {
      organizationId: orgId,
      pageSize: 100,
      pageToken: '',
    });
    const member = members.members.find((m) => m.userId === guest.user.id);
    assert.deepEqual(member?.roleIds, [roles.reader]);
    const listed = await org('listInvitations', {
      organizationId: orgId,
      pageSize: 100,
      pageToken: '',
    });
    const inv = listed.invitations.find((i) => i.email === address.toLowerCase());
    assert.equal(inv?.status, InvitationStatus.INVITATION_STATUS_ACCEPTED);
    await expectRpcError(
      call(gh.auth, 'acceptInvitation', { token }, { token: guest.tokens.accessToken }),
      status.INVALID_ARGUMENT,
      'INVALID_INVITATION_TOKEN',
    );
  });

  it('a new person registers through the mailed link and starts in the organisation', async () => {
    const address = email().toLowerCase();
    await invite(orgId, address, [roles.reader]);
    const { token } = tokenFromLink((await smtp.next(address)).text, INVITATION_URL);
    const registered = await call(gh.auth, 'register', {
      email: address,
      password: 'lantern-orchard-meadow-42',
      invitationToken: token,
    });
    const claims = JSON.parse(
      Buffer.from(
        (registered.tokens?.accessToken ?? '').split('.')[1] ?? '',
        'base64url',
      ).toString(),
    ) as { org_id?: string; org_roles?: string[] };
    assert.equal(claims.org_id, orgId);
    assert.equal(registered.user?.emailVerified, true, 'the mailed token proves the address');
  });
});

describe('invitation rate limit', () => {
  let gh: Gatehouse;
  after(async () => {
    await gh?.stop();
  });

  it('limits each caller’s invitations (they send mail), not everyone’s', async () => {
    gh = await startGatehouse({ RATE_LIMIT_ACCOUNT_IP_POINTS: '2', MAIL_TRANSPORT: 'log' });
    const admins = [];
    for (let i = 0; i < 2; i++) {
      const u = await registerUser(gh);
      await gh.db.query(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [u.user.id]);
      admins.push(u.tokens.accessToken);
    }
    const [first, second] = admins as [string, string];
    const organizationId =
      (
        await call(
          gh.organizations,
          'createOrganization',
          { slug: `rl-${randomUUID().slice(0, 8)}`, displayName: 'Limited', attributes: {} },
          { token: first },
        )
      ).organization?.id ?? assert.fail('no organisation');
    const invite = (token: string) =>
      call(
        gh.organizations,
        'createInvitation',
        { organizationId, email: `${randomUUID()}@example.test`, roleIds: [] },
        { token },
      );
    await invite(first);
    await invite(first);
    const limited = await expectRpcError(invite(first), status.RESOURCE_EXHAUSTED, 'RATE_LIMITED');
    assert.ok((limited.retryDelayMs ?? 0) > 0, 'with google.rpc.RetryInfo');
    const count = await gh.db.query('SELECT 1 FROM invitations WHERE organization_id = $1', [
      organizationId,
    ]);
    assert.equal(count.length, 2, 'a refused call stores nothing');
    await invite(second);
  });
});
