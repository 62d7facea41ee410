import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import {
  AuthorizationServiceClient,
  type BatchCheckPermissionsRequest,
  type BatchCheckPermissionsResponse,
  type CheckPermissionRequest,
  type CheckPermissionResponse,
  DecisionReason,
} from '../src/gen/gatehouse/authz/v1/authorization_service.ts';
import { bufCurl } from './helpers/bufCurl.ts';
import { eventually } from './helpers/eventually.ts';
import { expectRpcError } from './helpers/rpcError.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { registerUser } from './helpers/users.ts';

// The live-change bound of the feature: a change is visible within this on every instance.
const LIVE_WITHIN_MS = 1000;

type Method = 'checkPermission' | 'batchCheckPermissions';

/** A promisified AuthorizationService call with an optional bearer credential. */
function authz(
  client: AuthorizationServiceClient,
  method: 'checkPermission',
  req: Partial<CheckPermissionRequest>,
  token?: string,
): Promise<CheckPermissionResponse>;
function authz(
  client: AuthorizationServiceClient,
  method: 'batchCheckPermissions',
  req: BatchCheckPermissionsRequest,
  token?: string,
): Promise<BatchCheckPermissionsResponse>;
function authz(
  client: AuthorizationServiceClient,
  method: Method,
  req: object,
  token?: string,
): Promise<unknown> {
  const md = new Metadata();
  if (token !== undefined) md.set('authorization', `Bearer ${token}`);
  return new Promise((resolve, reject) => {
    const fn = client[method] as unknown as (
      r: object,
      m: Metadata,
      cb: (e: ServiceError | null, res: unknown) => void,
    ) => void;
    fn.call(client, { permission: '', organizationId: '', ...req }, md, (e, res) =>
      e ? reject(e) : resolve(res),
    );
  });
}

const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

describe('AuthorizationService', () => {
  let gh: Gatehouse;
  let gh2: Gatehouse;
  let client: AuthorizationServiceClient;
  let client2: AuthorizationServiceClient;
  let adminToken: string;
  /** A resource server: a service account whose global role grants authz:check. */
  let rsKey: string;

  const sql = (text: string, params: unknown[] = []) => gh.db.query(text, params);
  const definePermission = (name: string) =>
    sql(`INSERT INTO permissions (name) VALUES ($1) ON CONFLICT DO NOTHING`, [name]);
  /** A role of `scope` granting `permissions` (defined on the way); returns its id. */
  const role = async (name: string, scope: 'global' | 'organization', permissions: string[]) => {
    for (const p of permissions) await definePermission(p);
    const [row] = await sql(`INSERT INTO roles (name, scope) VALUES ($1, $2) RETURNING id`, [
      name,
      scope,
    ]);
    const id = (row as { id: string }).id;
    for (const p of permissions) {
      await sql(`INSERT INTO role_permissions (role_id, permission) VALUES ($1, $2)`, [id, p]);
    }
    return id;
  };
  const organization = async (status = 'active') => {
    const [row] = await sql(
      `INSERT INTO organizations (slug, status) VALUES ($1, $2) RETURNING id`,
      [unique('hotel'), status],
    );
    return (row as { id: string }).id;
  };
  const member = async (organizationId: string, userId: string, roleIds: string[]) => {
    const [row] = await sql(
      `INSERT INTO memberships (organization_id, user_id) VALUES ($1, $2) RETURNING id`,
      [organizationId, userId],
    );
    const id = (row as { id: string }).id;
    for (const r of roleIds) {
      await sql(`INSERT INTO membership_roles (membership_id, role_id) VALUES ($1, $2)`, [id, r]);
    }
    return id;
  };
  const check = (req: Partial<CheckPermissionRequest>, c = client) =>
    authz(c, 'checkPermission', req, rsKey);
  const asUser = (userId: string) =>
    ({ $case: 'subject', value: { id: { $case: 'userId', value: userId } } }) as const;

  before(async () => {
    gh = await startGatehouse();
    // A second instance on the same database: answers must be live on both.
    gh2 = await startGatehouse({}, gh.db);
    client = new AuthorizationServiceClient(gh.target, credentials.createInsecure());
    client2 = new AuthorizationServiceClient(gh2.target, credentials.createInsecure());
    const admin = await registerUser(gh);
    await sql(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [admin.user.id]);
    adminToken = admin.tokens.accessToken;
    await role('resource-server', 'global', ['authz:check']);
    const sa = await call(
      gh.serviceAccounts,
      'createServiceAccount',
      { name: unique('rs'), displayName: '', description: '', roles: ['resource-server'] },
      { token: adminToken },
    );
    const key = await call(
      gh.serviceAccounts,
      'createServiceAccountKey',
      { serviceAccountId: sa.serviceAccount?.id ?? '', displayName: '', roles: [] },
      { token: adminToken },
    );
    rsKey = key.secret;
  });
  after(async () => {
    client.close();
    client2.close();
    await gh2.stop();
    await gh.stop();
  });

  it('allows through a global role, by subject and by credential', async () => {
    await role('front-desk', 'global', ['bookings:read']);
    const u = await registerUser(gh);
    await sql(`UPDATE users SET roles = '{front-desk}' WHERE id = $1`, [u.user.id]);
    const bySubject = await check({ principal: asUser(u.user.id), permission: 'bookings:read' });
    assert.equal(bySubject.allowed, true);
    assert.equal(bySubject.reason, DecisionReason.DECISION_REASON_GLOBAL_ROLE);
    assert.match(bySubject.explanation, /front-desk/);
    // Global roles apply in any organisation, even one the user is not a member of.
    const byToken = await check({
      principal: { $case: 'credential', value: u.tokens.accessToken },
      permission: 'bookings:read',
      organizationId: await organization(),
    });
    assert.equal(byToken.allowed, true);
    const other = await check({ principal: asUser(u.user.id), permission: 'bookings:write' });
    assert.equal(other.allowed, false);
    assert.equal(other.reason, DecisionReason.DECISION_REASON_NOT_GRANTED);
  });

  it('does not treat the admin role as every permission', async () => {
    const [row] = await sql(`SELECT id FROM users WHERE 'admin' = ANY (roles) LIMIT 1`);
    const res = await check({
      principal: asUser((row as { id: string }).id),
      permission: 'bookings:read',
    });
    assert.equal(res.allowed, false);
    assert.equal(res.reason, DecisionReason.DECISION_REASON_NOT_GRANTED);
  });

  it('allows through a membership role in its organisation only', async () => {
    const hotelAdmin = await role(unique('hotel-admin'), 'organization', ['staff:manage']);
    const [a, b] = [await organization(), await organization()];
    const u = await registerUser(gh);
    await member(a, u.user.id, [hotelAdmin]);
    const inA = await check({
      principal: asUser(u.user.id),
      permission: 'staff:manage',
      organizationId: a,
    });
    assert.equal(inA.allowed, true);
    assert.equal(inA.reason, DecisionReason.DECISION_REASON_ORGANIZATION_ROLE);
    assert.match(inA.explanation, /hotel-admin/);
    const inB = await check({
      principal: asUser(u.user.id),
      permission: 'staff:manage',
      organizationId: b,
    });
    assert.equal(inB.allowed, false);
    assert.equal(inB.reason, DecisionReason.DECISION_REASON_NOT_A_MEMBER);
    const global = await check({ principal: asUser(u.user.id), permission: 'staff:manage' });
    assert.equal(global.reason, DecisionReason.DECISION_REASON_NOT_GRANTED);
    const nowhere = await check({
      principal: asUser(u.user.id),
      permission: 'staff:manage',
      organizationId: randomUUID(),
    });
    assert.equal(nowhere.reason, DecisionReason.DECISION_REASON_ORGANIZATION_NOT_FOUND);
  });

  /**
   * A member of a new organisation holding a role that grants `permission` there, allowed on
   * both instances; after `change`, denied on both within the live bound, with `reason`.
   */
  const deniedEverywhereAfter = async (
    permission: string,
    change: (ids: { org: string; role: string; membership: string }) => Promise<unknown>,
    reason: DecisionReason,
  ) => {
    const staff = await role(unique('staff'), 'organization', [permission]);
    const org = await organization();
    const u = await registerUser(gh);
    const membership = await member(org, u.user.id, [staff]);
    const req = { principal: asUser(u.user.id), permission, organizationId: org };
    for (const c of [client, client2]) assert.equal((await check(req, c)).allowed, true);
    await change({ org, role: staff, membership });
    for (const c of [client, client2]) {
      const res = await eventually(
        () => check(req, c),
        (r) => !r.allowed,
        { timeoutMs: LIVE_WITHIN_MS, what: `denial of ${permission} after the change` },
      );
      assert.equal(res.reason, reason);
    }
  };

  it('denies within a second on both instances once the membership is removed', async () => {
    await deniedEverywhereAfter(
      'rooms:clean',
      ({ membership }) => sql(`DELETE FROM memberships WHERE id = $1`, [membership]),
      DecisionReason.DECISION_REASON_NOT_A_MEMBER,
    );
  });

  it('denies within a second on both instances once the role loses the permission', async () => {
    await deniedEverywhereAfter(
      'rooms:inspect',
      ({ role: id }) => sql(`DELETE FROM role_permissions WHERE role_id = $1`, [id]),
      DecisionReason.DECISION_REASON_NOT_GRANTED,
    );
  });

  it('denies within a second on both instances in a disabled organisation', async () => {
    await deniedEverywhereAfter(
      'rooms:book',
      ({ org }) => sql(`UPDATE organizations SET status = 'disabled' WHERE id = $1`, [org]),
      DecisionReason.DECISION_REASON_ORGANIZATION_DISABLED,
    );
  });

  it('denies an inactive credential or principal, saying so', async () => {
    const garbage = await check({
      principal: { $case: 'credential', value: 'not-a-token' },
      permission: 'bookings:read',
    });
    assert.equal(garbage.allowed, false);
    assert.equal(garbage.reason, DecisionReason.DECISION_REASON_CREDENTIAL_INACTIVE);

    await role('night-audit', 'global', ['ledger:read']);
    const u = await registerUser(gh);
    await sql(`UPDATE users SET roles = '{night-audit}' WHERE id = $1`, [u.user.id]);
    const byToken = {
      principal: { $case: 'credential', value: u.tokens.accessToken },
      permission: 'ledger:read',
    } as const;
    assert.equal((await check(byToken)).allowed, true);
    await call(gh.auth, 'logout', {}, { token: u.tokens.accessToken });
    const ended = await eventually(
      () => check(byToken),
      (r) => !r.allowed,
      { timeoutMs: LIVE_WITHIN_MS, what: 'denial of the logged-out token' },
    );
    assert.equal(ended.reason, DecisionReason.DECISION_REASON_CREDENTIAL_INACTIVE);

    const bySubject = { principal: asUser(u.user.id), permission: 'ledger:read' };
    await sql(`UPDATE users SET status = 'disabled' WHERE id = $1`, [u.user.id]);
    const disabled = await eventually(
      () => check(bySubject),
      (r) => !r.allowed,
      { timeoutMs: LIVE_WITHIN_MS, what: 'denial of the disabled user' },
    );
    assert.equal(disabled.reason, DecisionReason.DECISION_REASON_PRINCIPAL_INACTIVE);
  });

  it('answers a batch of mixed checks in order, and refuses more than 100', async () => {
    const clerk = await role(unique('clerk'), 'organization', ['invoices:read']);
    const org = await organization();
    const u = await registerUser(gh);
    await member(org, u.user.id, [clerk]);
    const credential = { $case: 'credential', value: u.tokens.accessToken } as const;
    const checks: CheckPermissionRequest[] = [
      { principal: credential, permission: 'invoices:read', organizationId: org },
      { principal: credential, permission: 'invoices:read', organizationId: '' },
      { principal: asUser(u.user.id), permission: 'invoices:write', organizationId: org },
      {
        principal: { $case: 'credential', value: 'nope' },
        permission: 'invoices:read',
        organizationId: org,
      },
      {
        principal: asUser(u.user.id),
        permission: 'invoices:read',
        organizationId: await organization(),
      },
    ];
    const { results } = await authz(client, 'batchCheckPermissions', { checks }, rsKey);
    assert.deepEqual(
      results.map((r) => [r.allowed, r.reason]),
      [
        [true, DecisionReason.DECISION_REASON_ORGANIZATION_ROLE],
        [false, DecisionReason.DECISION_REASON_NOT_GRANTED],
        [false, DecisionReason.DECISION_REASON_NOT_GRANTED],
        [false, DecisionReason.DECISION_REASON_CREDENTIAL_INACTIVE],
        [false, DecisionReason.DECISION_REASON_NOT_A_MEMBER],
      ],
    );

    const tooMany = Array.from({ length: 101 }, () => checks[2] as CheckPermissionRequest);
    const s = await expectRpcError(
      authz(client, 'batchCheckPermissions', { checks: tooMany }, rsKey),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.equal(s.fieldViolations?.[0]?.field, 'checks');
    const bad = await expectRpcError(
      authz(
        client,
        'batchCheckPermissions',
        {
          checks: [
            checks[0] as CheckPermissionRequest,
            { ...checks[1], permission: 'Not A Permission' } as CheckPermissionRequest,
          ],
        },
        rsKey,
      ),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.deepEqual(
      bad.fieldViolations?.map((v) => v.field),
      ['checks[1].permission'],
    );
  });

  it('validates a single check', async () => {
    const s = await expectRpcError(
      check({ permission: 'bookings:read', organizationId: 'not-a-uuid' }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.deepEqual(
      s.fieldViolations?.map((v) => v.field),
      ['credential', 'organization_id'],
    );
  });

  it('needs an authenticated caller holding authz:check or admin, before reading the request', async () => {
    const req = { principal: asUser(randomUUID()), permission: 'bookings:read' };
    await expectRpcError(
      authz(client, 'checkPermission', req),
      status.UNAUTHENTICATED,
      'INVALID_ACCESS_TOKEN',
    );
    const plain = await registerUser(gh);
    await expectRpcError(
      authz(client, 'checkPermission', req, plain.tokens.accessToken),
      status.PERMISSION_DENIED,
      'PERMISSION_REQUIRED',
    );
    // Refused before validation: a bad request from such a caller is still PERMISSION_DENIED.
    await expectRpcError(
      authz(
        client,
        'batchCheckPermissions',
        { checks: [{ ...req, permission: 'BAD', organizationId: '' }] },
        plain.tokens.accessToken,
      ),
      status.PERMISSION_DENIED,
      'PERMISSION_REQUIRED',
    );
    // The Gatehouse admin may ask.
    assert.equal((await authz(client, 'checkPermission', req, adminToken)).allowed, false);

    // A key that does not ask for the role granting authz:check cannot call.
    const sa = await call(
      gh.serviceAccounts,
      'createServiceAccount',
      { name: unique('rs'), displayName: '', description: '', roles: ['resource-server', 'other'] },
      { token: adminToken },
    );
    const narrow = await call(
      gh.serviceAccounts,
      'createServiceAccountKey',
      { serviceAccountId: sa.serviceAccount?.id ?? '', displayName: '', roles: ['other'] },
      { token: adminToken },
    );
    await expectRpcError(
      authz(client, 'checkPermission', req, narrow.secret),
      status.PERMISSION_DENIED,
      'PERMISSION_REQUIRED',
    );

    // Taking the permission away from the caller's role applies within a second.
    const caller = await role(unique('checker'), 'global', ['authz:check']);
    const [callerRole] = await sql(`SELECT name FROM roles WHERE id = $1`, [caller]);
    const checker = await registerUser(gh);
    await sql(`UPDATE users SET roles = $1 WHERE id = $2`, [
      [(callerRole as { name: string }).name],
      checker.user.id,
    ]);
    await eventually(
      () =>
        authz(client, 'checkPermission', req, checker.tokens.accessToken).then(
          () => true,
          () => false,
        ),
      (ok) => ok,
      { what: 'the new checker is admitted' },
    );
    await sql(`DELETE FROM role_permissions WHERE role_id = $1`, [caller]);
    await eventually(
      () =>
        authz(client, 'checkPermission', req, checker.tokens.accessToken).then(
          () => 'OK',
          (e: ServiceError) => status[e.code],
        ),
      (code) => code === 'PERMISSION_DENIED',
      { timeoutMs: LIVE_WITHIN_MS, what: 'the checker is refused' },
    );
  });

  it('works from buf curl as the README prints it', async () => {
    const u = await registerUser(gh);
    const res = await bufCurl(
      `http://${gh.target}/gatehouse.authz.v1.AuthorizationService/CheckPermission`,
      [
        '--emit-defaults',
        '-H',
        `authorization: Bearer ${adminToken}`,
        '-d',
        JSON.stringify({ subject: { userId: u.user.id }, permission: 'bookings:read' }),
      ],
    );
    assert.equal(res.code, 0, res.stderr);
    const answer = JSON.parse(res.stdout);
    assert.equal(answer.allowed, false);
    assert.equal(answer.reason, 'DECISION_REASON_NOT_GRANTED');
  });
});
