import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { decodeJwt } from 'jose';
import { type OrgFixtures, orgFixtures, uniqueName } from './helpers/organizations.ts';
import { expectRpcError } from './helpers/rpcError.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { PASSWORD, registerUser, uniqueEmail } from './helpers/users.ts';

/** A fresh invitation token, shaped as invitation mails carry them. */
const newToken = () => `ghin_${randomBytes(32).toString('base64url')}`;

interface InvitationRow {
  accepted_at: Date | null;
  accepted_by_user_id: string | null;
}

describe('invitation acceptance', () => {
  let gh: Gatehouse;
  let fx: OrgFixtures;
  let adminToken: string;

  const sql = (text: string, params: unknown[] = []) => gh.db.query(text, params);

  /**
   * An invitation row as OrganizationAdminService.CreateInvitation stores it (only the token's
   * SHA-256); `expired` dates it in the past, `revoked` revokes it. Returns its id and token.
   */
  const invite = async (
    organizationId: string,
    email: string,
    roleIds: string[],
    options: { expired?: boolean; revoked?: boolean } = {},
  ) => {
    const token = newToken();
    const [row] = await gh.db.query<{ id: string }>(
      `INSERT INTO invitations (organization_id, email_normalized, role_ids, token_hash,
                                created_at, expires_at, revoked_at)
       VALUES ($1, $2, $3, $4,
               now() - interval '2 days',
               now() + CASE WHEN $5 THEN interval '-1 day' ELSE interval '7 days' END,
               CASE WHEN $6 THEN now() END)
       RETURNING id`,
      [
        organizationId,
        email.toLowerCase(),
        roleIds,
        createHash('sha256').update(token).digest(),
        options.expired === true,
        options.revoked === true,
      ],
    );
    return { id: row?.id ?? '', token };
  };
  const accept = (token: string, bearer?: string) =>
    call(gh.auth, 'acceptInvitation', { token }, bearer === undefined ? {} : { token: bearer });
  const invitationRow = async (id: string) =>
    (
      await gh.db.query<InvitationRow>(
        `SELECT accepted_at, accepted_by_user_id FROM invitations WHERE id = $1`,
        [id],
      )
    )[0];
  const roleNamesOf = async (organizationId: string, userId: string) =>
    (
      await gh.db.query<{ name: string }>(
        `SELECT r.name FROM memberships m
         JOIN membership_roles mr ON mr.membership_id = m.id JOIN roles r ON r.id = mr.role_id
         WHERE m.organization_id = $1 AND m.user_id = $2 ORDER BY r.name`,
        [organizationId, userId],
      )
    ).map((r) => r.name);

  before(async () => {
    gh = await startGatehouse();
    fx = orgFixtures(gh.db);
    const admin = await registerUser(gh);
    await sql(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [admin.user.id]);
    adminToken =
      (await call(gh.auth, 'login', { identifier: admin.email, password: admin.password })).tokens
        ?.accessToken ?? '';
  });
  after(() => gh.stop());

  it('accepts once: membership, verified email, active organisation, audit; then refuses', async () => {
    const roleName = uniqueName('housekeeping');
    const role = await fx.role(roleName, 'organization', ['rooms:clean']);
    const org = await fx.organization();
    const u = await registerUser(gh);
    assert.equal(u.user.emailVerified, false);
    const inv = await invite(org, u.email, [role]);

    const res = await accept(inv.token, u.tokens.accessToken);
    assert.equal(res.organizationId, org);
    assert.deepEqual(res.organizationRoles, [roleName]);
    assert.equal(res.tokenType, 'Bearer');
    const claims = decodeJwt(res.accessToken);
    assert.equal(claims.org_id, org);
    assert.deepEqual(claims.org_roles, [roleName]);
    assert.equal(claims.sid, u.tokens.sessionId, 'a token of the calling session');
    const v = await call(gh.auth, 'validateToken', { accessToken: res.accessToken });
    assert.deepEqual(v.permissions, ['rooms:clean']);

    const [membership] = await sql(
      `SELECT id FROM memberships WHERE organization_id = $1 AND user_id = $2`,
      [org, u.user.id],
    );
    assert.equal(membership?.id, res.membershipId);
    const me = await call(gh.auth, 'getCurrentUser', {}, { token: u.tokens.accessToken });
    assert.equal(me.user?.emailVerified, true, 'the token proved the mailbox');
    const row = await invitationRow(inv.id);
    assert.ok(row?.accepted_at instanceof Date);
    assert.equal(row?.accepted_by_user_id, u.user.id);
    const [session] = await sql(`SELECT organization_id FROM sessions WHERE id = $1`, [
      u.tokens.sessionId,
    ]);
    assert.equal(session?.organization_id, org, "the session's organisation is active");
    const refreshed = await call(gh.auth, 'refresh', { refreshToken: u.tokens.refreshToken });
    assert.equal(decodeJwt(refreshed.tokens?.accessToken ?? '').org_id, org);

    const audit = await sql(
      `SELECT actor_user_id, details, organization_id FROM audit_events
       WHERE action = 'invitation_accept' AND actor_user_id = $1`,
      [u.user.id],
    );
    assert.equal(audit.length, 1);
    assert.deepEqual(audit[0]?.details, {
      organization_id: org,
      invitation_id: inv.id,
      membership_id: res.membershipId,
      session_id: u.tokens.sessionId,
    });
    assert.equal(audit[0]?.organization_id, org);

    const again = await expectRpcError(
      accept(inv.token, u.tokens.accessToken),
      status.INVALID_ARGUMENT,
      'INVALID_INVITATION_TOKEN',
    );
    assert.equal(again.fieldViolations?.[0]?.field, 'token');
  });

  it('refuses expired, revoked, unknown and malformed tokens alike, and a disabled organisation', async () => {
    const org = await fx.organization();
    const u = await registerUser(gh);
    const expired = await invite(org, u.email, [], { expired: true });
    const revoked = await invite(await fx.organization(), u.email, [], { revoked: true });
    const disabledOrg = await fx.organization();
    const ofDisabled = await invite(disabledOrg, u.email, []);
    await sql(`UPDATE organizations SET status = 'disabled' WHERE id = $1`, [disabledOrg]);
    const messages = new Set<string>();
    for (const token of [
      expired.token,
      revoked.token,
      ofDisabled.token,
      newToken(),
      'ghin_short',
      `ghpr_${randomBytes(32).toString('base64url')}`,
    ]) {
      const s = await expectRpcError(
        accept(token, u.tokens.accessToken),
        status.INVALID_ARGUMENT,
        'INVALID_INVITATION_TOKEN',
      );
      messages.add(s.message);
    }
    assert.equal(messages.size, 1, 'one answer for every kind of bad token');
    const empty = await expectRpcError(
      accept('', u.tokens.accessToken),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.equal(empty.fieldViolations?.[0]?.field, 'token');
    const joined = await sql(`SELECT 1 FROM memberships WHERE user_id = $1`, [u.user.id]);
    assert.equal(joined.length, 0, 'no membership from any of them');
    assert.equal((await invitationRow(expired.id))?.accepted_at, null);
  });

  it('a wrong address is INVITATION_EMAIL_MISMATCH and leaves the invitation to the right user', async () => {
    const org = await fx.organization();
    const invitedEmail = uniqueEmail('invited');
    const inv = await invite(org, invitedEmail, []);
    const stranger = await registerUser(gh);
    await expectRpcError(
      accept(inv.token, stranger.tokens.accessToken),
      status.FAILED_PRECONDITION,
      'INVITATION_EMAIL_MISMATCH',
    );
    assert.equal((await invitationRow(inv.id))?.accepted_at, null, 'still open');
    const strangerRows = await sql(`SELECT 1 FROM memberships WHERE user_id = $1`, [
      stranger.user.id,
    ]);
    assert.equal(strangerRows.length, 0);

    // The invited user, registered with the address in another case, accepts it.
    const invited = await registerUser(gh, { email: invitedEmail.toUpperCase() });
    const res = await accept(inv.token, invited.tokens.accessToken);
    assert.equal(res.organizationId, org);
    assert.equal((await invitationRow(inv.id))?.accepted_by_user_id, invited.user.id);
  });

  it('Register with a matching invitation makes a verified member acting in the organisation', async () => {
    const roleName = uniqueName('front-desk');
    const role = await fx.role(roleName, 'organization', ['desk:open']);
    const org = await fx.organization();
    const email = uniqueEmail('newcomer');
    const inv = await invite(org, email, [role]);
    const res = await call(gh.auth, 'register', {
      email,
      password: PASSWORD,
      invitationToken: inv.token,
    });
    const userId = res.user?.id ?? '';
    assert.equal(res.user?.emailVerified, true);
    const claims = decodeJwt(res.tokens?.accessToken ?? '');
    assert.equal(claims.org_id, org);
    assert.deepEqual(claims.org_roles, [roleName]);
    assert.deepEqual(await roleNamesOf(org, userId), [roleName]);
    const [session] = await sql(`SELECT organization_id FROM sessions WHERE id = $1`, [
      res.tokens?.sessionId,
    ]);
    assert.equal(session?.organization_id, org);
    assert.equal((await invitationRow(inv.id))?.accepted_by_user_id, userId);
    const audit = await sql(
      `SELECT action FROM audit_events WHERE actor_user_id = $1 ORDER BY id`,
      [userId],
    );
    assert.deepEqual(
      audit.map((r) => r.action),
      ['invitation_accept', 'register'],
    );
  });

  it('Register with an invitation for another address creates no account', async () => {
    const org = await fx.organization();
    const inv = await invite(org, uniqueEmail('someone-else'), []);
    const email = uniqueEmail('impostor');
    await expectRpcError(
      call(gh.auth, 'register', { email, password: PASSWORD, invitationToken: inv.token }),
      status.FAILED_PRECONDITION,
      'INVITATION_EMAIL_MISMATCH',
    );
    const users = await sql(`SELECT 1 FROM users WHERE email_normalized = $1`, [email]);
    assert.equal(users.length, 0, 'no user was created');
    assert.equal((await invitationRow(inv.id))?.accepted_at, null, 'the invitation stays open');
    const bad = await expectRpcError(
      call(gh.auth, 'register', { email, password: PASSWORD, invitationToken: 'ghin_nope' }),
      status.INVALID_ARGUMENT,
      'INVALID_INVITATION_TOKEN',
    );
    assert.equal(bad.fieldViolations?.[0]?.field, 'invitation_token');
    assert.equal((await sql(`SELECT 1 FROM users WHERE email_normalized = $1`, [email])).length, 0);
  });

  it('an existing member accepting gains the roles besides its own; vanished or global roles are skipped', async () => {
    const keep = await fx.role(uniqueName('a-keep'), 'organization', []);
    const added = await fx.role(uniqueName('b-added'), 'organization', []);
    const global = await fx.role(uniqueName('c-global'), 'global', []);
    const gone = await fx.role(uniqueName('d-gone'), 'organization', []);
    const org = await fx.organization();
    const u = await registerUser(gh);
    const membership = await fx.member(org, u.user.id, [keep]);
    const inv = await invite(org, u.email, [added, keep, global, gone]);
    await sql(`DELETE FROM roles WHERE id = $1`, [gone]);
    const res = await accept(inv.token, u.tokens.accessToken);
    assert.equal(res.membershipId, membership, 'the same membership');
    const [keepName, addedName] = (
      await gh.db.query<{ name: string }>(
        `SELECT name FROM roles WHERE id = ANY ($1) ORDER BY name`,
        [[keep, added]],
      )
    ).map((r) => r.name);
    assert.deepEqual(res.organizationRoles, [keepName, addedName]);
    assert.deepEqual(await roleNamesOf(org, u.user.id), [keepName, addedName]);
  });

  it('concurrent acceptances of one token: exactly one succeeds', async () => {
    const role = await fx.role(uniqueName('night'), 'organization', []);
    const org = await fx.organization();
    const u = await registerUser(gh);
    const sessions = [u.tokens.accessToken];
    for (let i = 0; i < 4; i++) {
      const l = await call(gh.auth, 'login', { identifier: u.email, password: u.password });
      sessions.push(l.tokens?.accessToken ?? '');
    }
    const inv = await invite(org, u.email, [role]);
    const results = await Promise.allSettled(sessions.map((s) => accept(inv.token, s)));
    const ok = results.filter((r) => r.status === 'fulfilled');
    assert.equal(ok.length, 1, 'exactly one acceptance');
    for (const r of results) {
      if (r.status === 'rejected') {
        await expectRpcError(
          Promise.reject(r.reason),
          status.INVALID_ARGUMENT,
          'INVALID_INVITATION_TOKEN',
        );
      }
    }
    const audit = await sql(
      `SELECT 1 FROM audit_events WHERE action = 'invitation_accept' AND actor_user_id = $1`,
      [u.user.id],
    );
    assert.equal(audit.length, 1);
    const memberships = await sql(`SELECT 1 FROM memberships WHERE user_id = $1`, [u.user.id]);
    assert.equal(memberships.length, 1);
  });

  it('authorization matrix: only a signed-in user with a session may accept', async () => {
    const org = await fx.organization();
    const u = await registerUser(gh);
    const inv = await invite(org, u.email, []);
    const userKey = (
      await call(
        gh.apiKeys,
        'createApiKey',
        { displayName: '', roles: [] },
        { token: u.tokens.accessToken },
      )
    ).secret;
    const sa = await call(
      gh.serviceAccounts,
      'createServiceAccount',
      { name: uniqueName('bot'), displayName: '', description: '', roles: [] },
      { token: adminToken },
    );
    const saKey = (
      await call(
        gh.serviceAccounts,
        'createServiceAccountKey',
        { serviceAccountId: sa.serviceAccount?.id ?? '', displayName: '', roles: [] },
        { token: adminToken },
      )
    ).secret;
    for (const bearer of [undefined, 'not.a.token', userKey, saKey]) {
      await expectRpcError(
        accept(inv.token, bearer),
        status.UNAUTHENTICATED,
        'INVALID_ACCESS_TOKEN',
      );
    }
    assert.equal((await invitationRow(inv.id))?.accepted_at, null);
    assert.equal((await accept(inv.token, u.tokens.accessToken)).organizationId, org);
  });
});

describe('invitation acceptance rate limit', () => {
  let gh: Gatehouse;
  before(async () => {
    // Register spends one point of the per-source credential budget; AcceptInvitation the rest.
    gh = await startGatehouse({ RATE_LIMIT_IP_CREDENTIAL_POINTS: '4' });
  });
  after(() => gh.stop());

  it('spends the per-source credential budget on every guess', async () => {
    const u = await registerUser(gh);
    for (let i = 0; i < 3; i++) {
      await expectRpcError(
        call(gh.auth, 'acceptInvitation', { token: newToken() }, { token: u.tokens.accessToken }),
        status.INVALID_ARGUMENT,
        'INVALID_INVITATION_TOKEN',
      );
    }
    const limited = await expectRpcError(
      call(gh.auth, 'acceptInvitation', { token: newToken() }, { token: u.tokens.accessToken }),
      status.RESOURCE_EXHAUSTED,
      'RATE_LIMITED',
    );
    assert.ok((limited.retryDelayMs ?? 0) > 0, 'RetryInfo says when to retry');
  });
});
