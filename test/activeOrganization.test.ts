import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { decodeJwt } from 'jose';
import { bufCurl } from './helpers/bufCurl.ts';
import { eventually } from './helpers/eventually.ts';
import { type OrgFixtures, orgFixtures, uniqueName } from './helpers/organizations.ts';
import { expectRpcError } from './helpers/rpcError.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { registerUser } from './helpers/users.ts';

// The live-change bound of the feature: a change is visible within this on every instance.
const LIVE_WITHIN_MS = 1000;

/** The organisation claims of an access token (decoded, not verified: the server verifies). */
function orgClaims(accessToken: string): { org_id?: unknown; org_roles?: unknown } {
  const { org_id, org_roles } = decodeJwt(accessToken);
  return {
    ...(org_id === undefined ? {} : { org_id }),
    ...(org_roles === undefined ? {} : { org_roles }),
  };
}

describe('active organisation of a session', () => {
  let gh: Gatehouse;
  let gh2: Gatehouse;
  let fx: OrgFixtures;
  let adminToken: string;

  const sql = (text: string, params: unknown[] = []) => gh.db.query(text, params);
  const validate = (token: string, instance = gh) =>
    call(instance.auth, 'validateToken', { accessToken: token });
  const login = (email: string, password: string, organizationId?: string) =>
    call(gh.auth, 'login', {
      identifier: email,
      password,
      ...(organizationId === undefined ? {} : { organizationId }),
    });
  const switchTo = (token: string | undefined, organizationId: string) =>
    call(gh.auth, 'switchOrganization', { organizationId }, token === undefined ? {} : { token });
  const sessionCount = async (userId: string) =>
    Number(
      (await sql(`SELECT count(*)::int AS n FROM sessions WHERE user_id = $1`, [userId]))[0]?.n,
    );

  /** A user who is a member of a new organisation with a role granting `permissions`. */
  const memberOfNewOrganization = async (permissions: string[]) => {
    const roleName = uniqueName('staff');
    const role = await fx.role(roleName, 'organization', permissions);
    const org = await fx.organization();
    const u = await registerUser(gh);
    const membership = await fx.member(org, u.user.id, [role]);
    return { ...u, org, role, roleName, membership };
  };

  before(async () => {
    gh = await startGatehouse();
    // A second instance on the same database: live answers must hold on both.
    gh2 = await startGatehouse({}, gh.db);
    fx = orgFixtures(gh.db);
    const admin = await registerUser(gh);
    await sql(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [admin.user.id]);
    adminToken = (await login(admin.email, admin.password)).tokens?.accessToken ?? '';
  });
  after(async () => {
    await gh2.stop();
    await gh.stop();
  });

  it('Login with organization_id: a member gets org_id and org_roles in the token', async () => {
    const u = await memberOfNewOrganization(['rooms:clean']);
    const res = await login(u.email, u.password, u.org);
    const token = res.tokens?.accessToken ?? '';
    assert.deepEqual(orgClaims(token), { org_id: u.org, org_roles: [u.roleName] });
    const [session] = await sql(`SELECT organization_id FROM sessions WHERE id = $1`, [
      res.tokens?.sessionId,
    ]);
    assert.equal(session?.organization_id, u.org, "the session's organisation is set");
    const v = await validate(token);
    assert.equal(v.organizationId, u.org);
    assert.deepEqual(v.organizationRoles, [u.roleName]);
    assert.deepEqual(v.permissions, ['rooms:clean']);

    // Without organization_id, no org claims, and ValidateToken lists no organisation.
    const plain = (await login(u.email, u.password)).tokens?.accessToken ?? '';
    assert.deepEqual(orgClaims(plain), {});
    const pv = await validate(plain);
    assert.equal(pv.organizationId, '');
    assert.deepEqual(pv.organizationRoles, []);
    assert.deepEqual(pv.permissions, []);
  });

  it('Login refuses non-members, unknown and disabled organisations, opening no session', async () => {
    const u = await memberOfNewOrganization(['rooms:clean']);
    const other = await fx.organization();
    const disabled = await fx.organization('disabled');
    await fx.member(disabled, u.user.id, []);
    const disabledNotMember = await fx.organization('disabled');
    const deleted = await fx.organization('deleted');
    await fx.member(deleted, u.user.id, []);
    const before = await sessionCount(u.user.id);

    const notMember = await expectRpcError(
      login(u.email, u.password, other),
      status.PERMISSION_DENIED,
      'NOT_A_MEMBER',
    );
    const unknown = await expectRpcError(
      login(u.email, u.password, randomUUID()),
      status.PERMISSION_DENIED,
      'NOT_A_MEMBER',
    );
    assert.equal(unknown.message, notMember.message, 'unknown and foreign read the same');
    await expectRpcError(
      login(u.email, u.password, disabledNotMember),
      status.PERMISSION_DENIED,
      'NOT_A_MEMBER',
    );
    await expectRpcError(
      login(u.email, u.password, deleted),
      status.PERMISSION_DENIED,
      'NOT_A_MEMBER',
    );
    await expectRpcError(
      login(u.email, u.password, disabled),
      status.FAILED_PRECONDITION,
      'ORGANIZATION_DISABLED',
    );
    // A wrong password is the usual answer, before any membership is looked at.
    await expectRpcError(
      login(u.email, 'wrong-password-entirely', other),
      status.UNAUTHENTICATED,
      'INVALID_CREDENTIALS',
    );
    const bad = await expectRpcError(
      login(u.email, u.password, 'not-a-uuid'),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.equal(bad.fieldViolations?.[0]?.field, 'organization_id');
    assert.equal(await sessionCount(u.user.id), before, 'no session was opened');
    const denied = await sql(
      `SELECT details FROM audit_events
       WHERE action = 'login' AND outcome = 'denied' AND actor_user_id = $1`,
      [u.user.id],
    );
    assert.equal(denied.length, 5, 'each refusal after the password is audited');
  });

  it('SwitchOrganization sets the org of the token and of later refreshes; "" clears', async () => {
    await fx.role('reception', 'global', ['desk:open']);
    const u = await memberOfNewOrganization(['rooms:inspect', 'rooms:clean']);
    await sql(`UPDATE users SET roles = '{reception}' WHERE id = $1`, [u.user.id]);
    const first = await login(u.email, u.password);
    const token = first.tokens?.accessToken ?? '';
    const refreshToken = first.tokens?.refreshToken ?? '';

    const switched = await switchTo(token, u.org);
    assert.equal(switched.organizationId, u.org);
    assert.deepEqual(switched.organizationRoles, [u.roleName]);
    assert.equal(switched.tokenType, 'Bearer');
    assert.deepEqual(orgClaims(switched.accessToken), {
      org_id: u.org,
      org_roles: [u.roleName],
    });
    const v = await validate(switched.accessToken);
    assert.equal(v.active, true);
    assert.equal(v.sessionId, first.tokens?.sessionId, 'the same session');
    assert.equal(v.organizationId, u.org);
    assert.deepEqual(v.organizationRoles, [u.roleName]);
    assert.deepEqual(v.permissions, ['desk:open', 'rooms:clean', 'rooms:inspect']);
    // The token minted before the switch still stands for no organisation.
    assert.deepEqual((await validate(token)).permissions, ['desk:open']);
    const listed = await call(gh.auth, 'listSessions', { pageSize: 0, pageToken: '' }, { token });
    assert.equal(
      listed.sessions.find((x) => x.current)?.organizationId,
      u.org,
      'ListSessions shows the session acting in it',
    );

    // The refresh token is unchanged and later refreshes keep the new organisation.
    const refreshed = await call(gh.auth, 'refresh', { refreshToken });
    assert.deepEqual(orgClaims(refreshed.tokens?.accessToken ?? ''), {
      org_id: u.org,
      org_roles: [u.roleName],
    });

    const cleared = await switchTo(switched.accessToken, '');
    assert.equal(cleared.organizationId, '');
    assert.deepEqual(cleared.organizationRoles, []);
    assert.deepEqual(orgClaims(cleared.accessToken), {});
    assert.deepEqual((await validate(cleared.accessToken)).permissions, ['desk:open']);
    const again = await call(gh.auth, 'refresh', {
      refreshToken: refreshed.tokens?.refreshToken ?? '',
    });
    assert.deepEqual(orgClaims(again.tokens?.accessToken ?? ''), {}, 'refresh keeps "none"');

    const rows = await sql(
      `SELECT details, organization_id FROM audit_events
       WHERE action = 'organization_switch' AND actor_user_id = $1 ORDER BY id`,
      [u.user.id],
    );
    assert.deepEqual(
      rows.map((r) => r.details),
      [
        {
          session_id: first.tokens?.sessionId,
          organization_id: u.org,
          previous_organization_id: null,
        },
        {
          session_id: first.tokens?.sessionId,
          organization_id: null,
          previous_organization_id: u.org,
        },
      ],
      'one audit row per switch',
    );
    assert.equal(rows[0]?.organization_id, u.org, 'findable by organisation');
  });

  it('SwitchOrganization refuses what Login refuses, changing nothing', async () => {
    const u = await memberOfNewOrganization([]);
    const token = u.tokens.accessToken;
    const disabled = await fx.organization('disabled');
    await fx.member(disabled, u.user.id, []);
    await expectRpcError(
      switchTo(token, await fx.organization()),
      status.PERMISSION_DENIED,
      'NOT_A_MEMBER',
    );
    await expectRpcError(switchTo(token, randomUUID()), status.PERMISSION_DENIED, 'NOT_A_MEMBER');
    await expectRpcError(
      switchTo(token, disabled),
      status.FAILED_PRECONDITION,
      'ORGANIZATION_DISABLED',
    );
    const bad = await expectRpcError(
      switchTo(token, 'nope'),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.equal(bad.fieldViolations?.[0]?.field, 'organization_id');
    const [session] = await sql(`SELECT organization_id FROM sessions WHERE id = $1`, [
      u.tokens.sessionId,
    ]);
    assert.equal(session?.organization_id, null);
    const audited = await sql(
      `SELECT 1 FROM audit_events WHERE action = 'organization_switch' AND actor_user_id = $1`,
      [u.user.id],
    );
    assert.equal(audited.length, 0, 'a refused switch changes nothing');
  });

  it('authorization matrix of SwitchOrganization and ListMyOrganizations', async () => {
    const u = await memberOfNewOrganization(['rooms:clean']);
    const userKey = (
      await call(
        gh.apiKeys,
        'createApiKey',
        { displayName: '', roles: [] },
        {
          token: u.tokens.accessToken,
        },
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
    const exchanged = (await call(gh.auth, 'exchangeApiKey', {}, { token: userKey })).accessToken;

    for (const [who, token] of [
      ['no caller', undefined],
      ['garbage', 'not.a.token'],
      ["a user's API key", userKey],
      ["a token minted from a user's key", exchanged],
      ["a service account's key", saKey],
    ] as const) {
      await expectRpcError(
        switchTo(token, u.org),
        status.UNAUTHENTICATED,
        'INVALID_ACCESS_TOKEN',
      ).catch((e) => assert.fail(`SwitchOrganization by ${who}: ${e}`));
    }
    assert.equal((await switchTo(u.tokens.accessToken, u.org)).organizationId, u.org);

    const list = (token?: string) =>
      call(gh.auth, 'listMyOrganizations', {}, token === undefined ? {} : { token });
    for (const [who, token] of [
      ['no caller', undefined],
      ['garbage', 'not.a.token'],
      ["a service account's key", saKey],
    ] as const) {
      await expectRpcError(list(token), status.UNAUTHENTICATED, 'INVALID_ACCESS_TOKEN').catch((e) =>
        assert.fail(`ListMyOrganizations by ${who}: ${e}`),
      );
    }
    for (const token of [u.tokens.accessToken, userKey, exchanged]) {
      const res = await list(token);
      assert.deepEqual(
        res.organizations.map((o) => [o.organizationId, o.roles]),
        [[u.org, [u.roleName]]],
      );
      assert.equal(res.truncated, false);
    }
  });

  it('ListMyOrganizations lists memberships in active organisations only, by slug', async () => {
    const u = await memberOfNewOrganization(['rooms:clean']);
    const second = await fx.organization();
    await fx.member(second, u.user.id, []);
    const disabled = await fx.organization('disabled');
    await fx.member(disabled, u.user.id, []);
    const res = await call(gh.auth, 'listMyOrganizations', {}, { token: u.tokens.accessToken });
    const expected = await sql(
      `SELECT id, slug, display_name FROM organizations WHERE id = ANY ($1) ORDER BY slug`,
      [[u.org, second]],
    );
    assert.deepEqual(
      res.organizations.map((o) => [o.organizationId, o.slug, o.displayName]),
      expected.map((r) => [r.id, r.slug, r.display_name]),
    );
    const roles = new Map(res.organizations.map((o) => [o.organizationId, o.roles]));
    assert.deepEqual(roles.get(u.org), [u.roleName]);
    assert.deepEqual(roles.get(second), []);
  });

  it('ValidateToken of a token minted before stops listing a removed membership within 1 s, on both instances', async () => {
    const u = await memberOfNewOrganization(['rooms:clean']);
    const token = (await login(u.email, u.password, u.org)).tokens?.accessToken ?? '';
    for (const instance of [gh, gh2]) {
      const v = await validate(token, instance);
      assert.deepEqual(v.organizationRoles, [u.roleName]);
      assert.deepEqual(v.permissions, ['rooms:clean']);
    }
    await call(
      gh.organizations,
      'removeMember',
      { organizationId: u.org, userId: u.user.id, serviceAccountId: '' },
      { token: adminToken },
    );
    for (const instance of [gh, gh2]) {
      const v = await eventually(
        () => validate(token, instance),
        (r) => r.permissions.length === 0 && r.organizationRoles.length === 0,
        { timeoutMs: LIVE_WITHIN_MS, what: 'the removed membership gone from ValidateToken' },
      );
      assert.equal(v.active, true, 'the session itself is still live');
      assert.equal(v.organizationId, u.org, "organization_id stays the token's");
    }
    // The token's claim is as of issue: it still says what the membership was.
    assert.deepEqual(orgClaims(token), { org_id: u.org, org_roles: [u.roleName] });
  });

  it('Refresh after the membership is removed issues a token without org claims', async () => {
    const u = await memberOfNewOrganization(['rooms:clean']);
    const res = await login(u.email, u.password, u.org);
    await sql(`DELETE FROM memberships WHERE id = $1`, [u.membership]);
    const refreshed = await call(gh.auth, 'refresh', {
      refreshToken: res.tokens?.refreshToken ?? '',
    });
    const token = refreshed.tokens?.accessToken ?? '';
    assert.deepEqual(orgClaims(token), {});
    const [session] = await sql(`SELECT organization_id FROM sessions WHERE id = $1`, [
      res.tokens?.sessionId,
    ]);
    assert.equal(session?.organization_id, null, "the session's organisation is cleared");
    const v = await validate(token);
    assert.equal(v.organizationId, '');
    assert.deepEqual(v.permissions, []);
    const [audit] = await gh.db.query<{ details: { organization_cleared?: boolean } }>(
      `SELECT details FROM audit_events WHERE action = 'refresh' AND actor_user_id = $1`,
      [u.user.id],
    );
    assert.equal(audit?.details.organization_cleared, true);

    // A disabled organisation is cleared the same way.
    const w = await memberOfNewOrganization([]);
    const wl = await login(w.email, w.password, w.org);
    await sql(`UPDATE organizations SET status = 'disabled' WHERE id = $1`, [w.org]);
    const wr = await call(gh.auth, 'refresh', { refreshToken: wl.tokens?.refreshToken ?? '' });
    assert.deepEqual(orgClaims(wr.tokens?.accessToken ?? ''), {});
  });

  it("ValidateToken of an API key lists the key's global permissions and no organisation", async () => {
    await fx.role('auditor', 'global', ['ledger:read']);
    await fx.role('cashier', 'global', ['ledger:write']);
    const u = await memberOfNewOrganization(['rooms:clean']);
    await sql(`UPDATE users SET roles = '{auditor,cashier}' WHERE id = $1`, [u.user.id]);
    const token = (await login(u.email, u.password, u.org)).tokens?.accessToken ?? '';
    const key = (
      await call(gh.apiKeys, 'createApiKey', { displayName: '', roles: ['auditor'] }, { token })
    ).secret;
    const v = await validate(key);
    assert.equal(v.active, true);
    assert.equal(v.organizationId, '');
    assert.deepEqual(v.organizationRoles, []);
    assert.deepEqual(v.permissions, ['ledger:read']);
    assert.deepEqual((await validate(token)).permissions, [
      'ledger:read',
      'ledger:write',
      'rooms:clean',
    ]);
  });

  it('ValidateToken without an organisation follows global role changes within 1 s, on both instances', async () => {
    const roleName = uniqueName('night-audit');
    const roleId = await fx.role(roleName, 'global', ['ledger:close']);
    const u = await registerUser(gh);
    await sql(`UPDATE users SET roles = $2 WHERE id = $1`, [u.user.id, [roleName]]);
    const token = (await login(u.email, u.password)).tokens?.accessToken ?? '';
    for (const instance of [gh, gh2]) {
      assert.deepEqual((await validate(token, instance)).permissions, ['ledger:close']);
    }
    // The role gains a permission and loses its first one: the catalog of global roles is
    // dropped on the change, on every instance.
    await fx.role(uniqueName('unrelated'), 'global', ['ledger:reopen']);
    await sql(`UPDATE role_permissions SET permission = 'ledger:reopen' WHERE role_id = $1`, [
      roleId,
    ]);
    for (const instance of [gh, gh2]) {
      await eventually(
        () => validate(token, instance),
        (r) => r.permissions.join() === 'ledger:reopen',
        { timeoutMs: LIVE_WITHIN_MS, what: "the role's new permissions in ValidateToken" },
      );
    }
    // And the user losing the role (their roles change, so the session cache drops them).
    await sql(`UPDATE users SET roles = '{}' WHERE id = $1`, [u.user.id]);
    for (const instance of [gh, gh2]) {
      await eventually(
        () => validate(token, instance),
        (r) => r.permissions.length === 0,
        { timeoutMs: LIVE_WITHIN_MS, what: 'no permissions once the role is taken away' },
      );
    }
  });

  it("the README's example, as printed: an admin joins an organisation and switches into it", async () => {
    const rpc = async (path: string, body: unknown, bearer?: string) => {
      const res = await bufCurl(`http://${gh.target}/gatehouse.${path}`, [
        '--emit-defaults',
        ...(bearer === undefined ? [] : ['-H', `authorization: Bearer ${bearer}`]),
        '-d',
        JSON.stringify(body),
      ]);
      assert.equal(res.code, 0, `${path}: ${res.stderr}`);
      return JSON.parse(res.stdout) as Record<string, unknown>;
    };
    const ORGS = 'admin.v1.OrganizationAdminService';
    const slug = uniqueName('lisbon');
    const orgId = (
      (
        await rpc(
          `${ORGS}/CreateOrganization`,
          { slug, displayName: 'Lisbon Riverside' },
          adminToken,
        )
      ).organization as { id: string }
    ).id;
    const adminId = (
      (await rpc('auth.v1.AuthService/GetCurrentUser', {}, adminToken)).user as {
        id: string;
      }
    ).id;
    await rpc(`${ORGS}/AddMember`, { organizationId: orgId, userId: adminId }, adminToken);
    const mine = await rpc('auth.v1.AuthService/ListMyOrganizations', {}, adminToken);
    assert.ok(JSON.stringify(mine).includes(slug), 'the new organisation is listed');
    const orgToken = (
      await rpc('auth.v1.AuthService/SwitchOrganization', { organizationId: orgId }, adminToken)
    ).accessToken as string;
    const v = await rpc('auth.v1.AuthService/ValidateToken', { accessToken: orgToken });
    assert.deepEqual(
      {
        organizationId: v.organizationId,
        organizationRoles: v.organizationRoles,
        permissions: v.permissions,
      },
      { organizationId: orgId, organizationRoles: [], permissions: [] },
    );
  });

  it('ChangePassword keeps the calling session organisation in the new session', async () => {
    const u = await memberOfNewOrganization(['rooms:clean']);
    const token = (await login(u.email, u.password, u.org)).tokens?.accessToken ?? '';
    const res = await call(
      gh.auth,
      'changePassword',
      { currentPassword: u.password, newPassword: 'another-long-harbour-password-7' },
      { token },
    );
    assert.deepEqual(orgClaims(res.tokens?.accessToken ?? ''), {
      org_id: u.org,
      org_roles: [u.roleName],
    });
  });
});
