import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import {
  Organization,
  type OrganizationAdminServiceClient,
  type OrganizationAdminServiceService,
  Role,
  RoleScope,
} from '../src/gen/gatehouse/admin/v1/organization_admin_service.ts';
import { expectRpcError, rpcStatus } from './helpers/rpcError.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { registerUser } from './helpers/users.ts';

type Method = keyof typeof OrganizationAdminServiceService & string;
type AnyRequest = Record<string, unknown>;

interface AuditRow {
  action: string;
  outcome: string;
  actor_user_id: string | null;
  organization_id: string | null;
  details: Record<string, unknown>;
}

// Every RPC a manager (org:manage in the organisation) may call, with its audit action.
const DELEGATED: Record<string, string> = {
  addMember: 'member_add',
  listMembers: 'member_list',
  removeMember: 'member_remove',
  setMemberRoles: 'member_roles_set',
  createInvitation: 'invitation_create',
  listInvitations: 'invitation_list',
  revokeInvitation: 'invitation_revoke',
};

describe('delegated administration (org:manage)', () => {
  let gh: Gatehouse;
  let adminToken: string;
  const orgIds = { a: '', b: '' };
  const roles = { manager: '', reader: '', writer: '' };
  const tokens = { outsider: '', member: '', managerB: '', managerA: '' };
  const users = { managerA: '' };

  /** A call of OrganizationAdminService with `token` (none: no credential). */
  const org = <K extends Method>(
    method: K,
    req: Parameters<typeof call<OrganizationAdminServiceClient, K>>[2],
    token: string | undefined,
    requestId: string = randomUUID(),
  ) =>
    call(gh.organizations, method, req, {
      ...(token === undefined ? {} : { token }),
      metadata: { 'x-request-id': requestId },
    });
  const asAdmin = <K extends Method>(
    method: K,
    req: Parameters<typeof call<OrganizationAdminServiceClient, K>>[2],
  ) => org(method, req, adminToken);
  const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

  const newOrganization = async (name: string) =>
    (
      await asAdmin('createOrganization', {
        slug: unique(name.toLowerCase().replace(/[^a-z0-9]+/g, '-')),
        displayName: name,
        attributes: {},
      })
    ).organization?.id ?? assert.fail('no organisation');
  const addMember = async (organizationId: string, userId: string, roleIds: string[]) =>
    asAdmin('addMember', { organizationId, userId, serviceAccountId: '', roleIds });
  /** A registered user who is a member of `organizationId` with `roleIds`; its id and token. */
  const newMember = async (organizationId: string, roleIds: string[]) => {
    const u = await registerUser(gh);
    await addMember(organizationId, u.user.id, roleIds);
    return { id: u.user.id, token: u.tokens.accessToken };
  };
  const auditRows = async (requestId: string) =>
    gh.db.query<AuditRow>(
      `SELECT action, outcome, actor_user_id, organization_id::text, details
       FROM audit_events WHERE request_id = $1`,
      [requestId],
    );
  const membersOf = async (organizationId: string) =>
    gh.db.query<{ user_id: string; role_ids: string[] }>(
      `SELECT m.user_id::text,
              coalesce(array_agg(mr.role_id::text) FILTER (WHERE mr.role_id IS NOT NULL), '{}')
                AS role_ids
       FROM memberships m LEFT JOIN membership_roles mr ON mr.membership_id = m.id
       WHERE m.organization_id = $1 GROUP BY m.user_id`,
      [organizationId],
    );

  before(async () => {
    gh = await startGatehouse();
    const admin = await registerUser(gh);
    await gh.db.query(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [admin.user.id]);
    adminToken = admin.tokens.accessToken;
    const read = `${unique('doc')}:read`;
    const write = read.replace(':read', ':write');
    for (const name of [read, write]) await asAdmin('definePermission', { name, description: '' });
    const role = async (name: string, permissions: string[]) =>
      (
        await asAdmin('createRole', {
          name: unique(name),
          scope: RoleScope.ROLE_SCOPE_ORGANIZATION,
          permissions,
          description: '',
        })
      ).role?.id ?? assert.fail('no role');
    // A manager holds org:manage and doc:read, but not doc:write.
    roles.manager = await role('manager', ['org:manage', read]);
    roles.reader = await role('reader', [read]);
    roles.writer = await role('writer', [write]);
    orgIds.a = await newOrganization('Hotel Alpha');
    orgIds.b = await newOrganization('Hotel Beta');
    tokens.outsider = (await registerUser(gh)).tokens.accessToken;
    tokens.member = (await newMember(orgIds.a, [roles.reader])).token;
    tokens.managerB = (await newMember(orgIds.b, [roles.manager])).token;
    const managerA = await newMember(orgIds.a, [roles.manager]);
    tokens.managerA = managerA.token;
    users.managerA = managerA.id;
  });
  after(async () => {
    await gh?.stop();
  });

  /**
   * A request of `method` in organisation A that succeeds for a caller allowed to make it: the
   * member it is about, or the invitation, made for it by the admin.
   */
  const validRequest = async (method: string): Promise<AnyRequest> => {
    const organizationId = orgIds.a;
    switch (method) {
      case 'addMember':
        return {
          organizationId,
          userId: (await registerUser(gh)).user.id,
          serviceAccountId: '',
          roleIds: [roles.reader],
        };
      case 'listMembers':
      case 'listInvitations':
        return { organizationId, pageSize: 0, pageToken: '' };
      case 'removeMember':
        return {
          organizationId,
          userId: (await newMember(organizationId, [roles.reader])).id,
          serviceAccountId: '',
        };
      case 'setMemberRoles':
        return {
          organizationId,
          userId: (await newMember(organizationId, [])).id,
          serviceAccountId: '',
          roleIds: [roles.reader],
        };
      case 'createInvitation':
        return { organizationId, email: `${unique('invitee')}@example.test`, roleIds: [] };
      case 'revokeInvitation': {
        const created = await asAdmin('createInvitation', {
          organizationId,
          email: `${unique('invitee')}@example.test`,
          roleIds: [],
        });
        return { organizationId, invitationId: created.invitation?.id ?? '' };
      }
      default:
        throw new Error(`no valid request for ${method}`);
    }
  };

  /** The same request with every id but the organisation's unknown. */
  const probeRequest = (valid: AnyRequest): AnyRequest => {
    const probe: AnyRequest = { ...valid };
    for (const field of ['userId', 'invitationId']) if (field in probe) probe[field] = randomUUID();
    if ('roleIds' in probe) probe.roleIds = [randomUUID()];
    return probe;
  };

  it('admits managers of the organisation and admins only, before any lookup, auditing each call', async () => {
    const denied = [
      {
        who: 'no caller',
        token: undefined,
        code: 'UNAUTHENTICATED',
        reason: 'INVALID_ACCESS_TOKEN',
      },
      {
        who: 'non-member',
        token: tokens.outsider,
        code: 'PERMISSION_DENIED',
        reason: 'PERMISSION_REQUIRED',
      },
      {
        who: 'member without org:manage',
        token: tokens.member,
        code: 'PERMISSION_DENIED',
        reason: 'PERMISSION_REQUIRED',
      },
      {
        who: 'manager of another organisation',
        token: tokens.managerB,
        code: 'PERMISSION_DENIED',
        reason: 'PERMISSION_REQUIRED',
      },
    ] as const;
    const allowed = [
      { who: 'manager', token: () => tokens.managerA, access: 'permission' },
      { who: 'global admin', token: () => adminToken, access: 'role' },
    ] as const;
    for (const method of Object.keys(DELEGATED)) {
      for (const caller of denied) {
        const valid = await validRequest(method);
        const before = await membersOf(orgIds.a);
        for (const req of [valid, probeRequest(valid)]) {
          const requestId = randomUUID();
          const s = rpcStatus(
            await org(method as Method, req as never, caller.token, requestId).then(
              () => assert.fail(`${method} by ${caller.who} succeeded`),
              (e: unknown) => e,
            ),
          );
          assert.equal(status[s.grpcCode], caller.code, `${method} by ${caller.who}`);
          assert.equal(s.errorInfo?.reason, caller.reason, `${method} by ${caller.who}`);
          if (caller.reason === 'PERMISSION_REQUIRED') {
            assert.match(s.message, /admin role, or the permission org:manage/);
          }
          const rows = await auditRows(requestId);
          assert.equal(rows.length, 1, `${method} by ${caller.who}: exactly one audit event`);
          assert.equal(rows[0]?.action, DELEGATED[method]);
          assert.equal(rows[0]?.outcome, caller.token === undefined ? 'failure' : 'denied');
          if (caller.token !== undefined) {
            assert.equal(rows[0]?.organization_id, orgIds.a, 'the attempt is filed under the org');
            assert.equal(rows[0]?.details.access, undefined, 'a refused caller got in no way');
          }
        }
        assert.deepEqual(
          await membersOf(orgIds.a),
          before,
          `${method} by ${caller.who}: no change`,
        );
      }
      for (const caller of allowed) {
        const requestId = randomUUID();
        const req = await validRequest(method);
        await org(method as Method, req as never, caller.token(), requestId);
        const rows = await auditRows(requestId);
        assert.equal(rows.length, 1, `${method} by ${caller.who}: exactly one audit event`);
        assert.equal(rows[0]?.outcome, 'success', `${method} by ${caller.who}`);
        assert.equal(rows[0]?.organization_id, orgIds.a);
        assert.equal(rows[0]?.details.organization_id, orgIds.a);
        assert.equal(rows[0]?.details.access, caller.access, `${method} by ${caller.who}`);
        // Past the policy, an unknown id is the handler's answer: NOT_FOUND, not a refusal.
        if (
          method !== 'listMembers' &&
          method !== 'listInvitations' &&
          method !== 'createInvitation'
        ) {
          const s = rpcStatus(
            await org(method as Method, probeRequest(req) as never, caller.token()).then(
              () => assert.fail(`${method} with unknown ids succeeded`),
              (e: unknown) => e,
            ),
          );
          assert.equal(status[s.grpcCode], 'NOT_FOUND', `${method} by ${caller.who}: ${s.message}`);
        }
      }
    }
  });

  it('refuses a request without an organisation id as PERMISSION_REQUIRED, not INVALID_ARGUMENT', async () => {
    for (const organizationId of ['', 'not-a-uuid']) {
      await expectRpcError(
        org('listMembers', { organizationId, pageSize: 0, pageToken: '' }, tokens.managerA),
        status.PERMISSION_DENIED,
        'PERMISSION_REQUIRED',
      );
    }
    // An admin gets past the policy and learns what is wrong with the request.
    await expectRpcError(
      org('listMembers', { organizationId: 'not-a-uuid', pageSize: 0, pageToken: '' }, adminToken),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
  });

  it('never lets a manager grant a permission it does not hold itself', async () => {
    const target = await registerUser(gh);
    const exceeds = await expectRpcError(
      org(
        'addMember',
        {
          organizationId: orgIds.a,
          userId: target.user.id,
          serviceAccountId: '',
          roleIds: [roles.writer],
        },
        tokens.managerA,
      ),
      status.PERMISSION_DENIED,
      'GRANT_EXCEEDS_CALLER',
    );
    assert.match(exceeds.message, /:write/, 'the message names the permission');
    assert.equal((await membersOf(orgIds.a)).filter((m) => m.user_id === target.user.id).length, 0);

    // Roles within the manager's own permissions are fine, org:manage included.
    await org(
      'addMember',
      {
        organizationId: orgIds.a,
        userId: target.user.id,
        serviceAccountId: '',
        roleIds: [roles.reader],
      },
      tokens.managerA,
    );
    const setRoles = (roleIds: string[], token: string) =>
      org(
        'setMemberRoles',
        { organizationId: orgIds.a, userId: target.user.id, serviceAccountId: '', roleIds },
        token,
      );
    await expectRpcError(
      setRoles([roles.reader, roles.writer], tokens.managerA),
      status.PERMISSION_DENIED,
      'GRANT_EXCEEDS_CALLER',
    );
    // Only the roles being added count: a role the member already has may stay.
    await setRoles([roles.reader, roles.writer], adminToken);
    const kept = await setRoles([roles.writer, roles.manager], tokens.managerA);
    assert.deepEqual(kept.member?.roleIds, [roles.writer, roles.manager].sort());
    await expectRpcError(
      org(
        'createInvitation',
        { organizationId: orgIds.a, email: `${unique('x')}@example.test`, roleIds: [roles.writer] },
        tokens.managerA,
      ),
      status.PERMISSION_DENIED,
      'GRANT_EXCEEDS_CALLER',
    );
    const [row] = await gh.db.query<{ outcome: string; details: Record<string, unknown> }>(
      `SELECT outcome, details FROM audit_events
       WHERE action = 'invitation_create' AND actor_user_id = $1 ORDER BY id DESC LIMIT 1`,
      [users.managerA],
    );
    assert.equal(row?.outcome, 'denied');
    assert.equal(row?.details.reason, 'GRANT_EXCEEDS_CALLER');
    assert.equal(row?.details.access, 'permission');
    // A global admin is not bound by the rule.
    const other = await registerUser(gh);
    await org(
      'addMember',
      {
        organizationId: orgIds.a,
        userId: other.user.id,
        serviceAccountId: '',
        roleIds: [roles.writer],
      },
      adminToken,
    );
  });

  it('keeps a manager out of roles, permissions, organisations and other organisations', async () => {
    const t = tokens.managerA;
    for (const attempt of [
      () =>
        org(
          'updateRole',
          {
            role: Role.fromPartial({ id: roles.manager, description: 'mine now' }),
            updateMask: ['description'],
          },
          t,
        ),
      () =>
        org(
          'createRole',
          {
            name: unique('mine'),
            scope: RoleScope.ROLE_SCOPE_ORGANIZATION,
            permissions: [],
            description: '',
          },
          t,
        ),
      () => org('definePermission', { name: 'mine:all', description: '' }, t),
      () => org('getOrganization', { organizationId: orgIds.a }, t),
      () =>
        org(
          'updateOrganization',
          {
            organization: Organization.fromPartial({ id: orgIds.a, displayName: 'Mine' }),
            updateMask: ['display_name'],
          },
          t,
        ),
      // The imports write memberships with any roles: admins only, even into A.
      () =>
        org(
          'importMemberships',
          {
            memberships: [
              {
                organization: { $case: 'organizationId', value: orgIds.a },
                member: { $case: 'userId', value: users.managerA },
                roles: ['anything'],
              },
            ],
          },
          t,
        ),
      () =>
        org(
          'importOrganizations',
          { organizations: [{ slug: unique('mine'), displayName: 'Mine', attributes: {} }] },
          t,
        ),
    ])
      await expectRpcError(attempt(), status.PERMISSION_DENIED, 'ADMIN_ROLE_REQUIRED');
    // Adding a member of A to B, or changing B's members, is acting in B.
    const memberOfA = await newMember(orgIds.a, [roles.reader]);
    const memberOfB = await newMember(orgIds.b, [roles.reader]);
    for (const attempt of [
      () =>
        org(
          'addMember',
          { organizationId: orgIds.b, userId: memberOfA.id, serviceAccountId: '', roleIds: [] },
          t,
        ),
      () =>
        org(
          'setMemberRoles',
          {
            organizationId: orgIds.b,
            userId: memberOfB.id,
            serviceAccountId: '',
            roleIds: [roles.manager],
          },
          t,
        ),
      () =>
        org(
          'removeMember',
          { organizationId: orgIds.b, userId: memberOfB.id, serviceAccountId: '' },
          t,
        ),
      () => org('listMembers', { organizationId: orgIds.b, pageSize: 0, pageToken: '' }, t),
      () =>
        org(
          'createInvitation',
          { organizationId: orgIds.b, email: `${unique('x')}@example.test`, roleIds: [] },
          t,
        ),
    ]) {
      await expectRpcError(attempt(), status.PERMISSION_DENIED, 'PERMISSION_REQUIRED');
    }
    assert.equal(
      (await membersOf(orgIds.b)).some((m) => m.user_id === memberOfA.id),
      false,
    );
    assert.deepEqual(
      (await membersOf(orgIds.b)).find((m) => m.user_id === memberOfB.id)?.role_ids,
      [roles.reader],
    );
  });

  it('admits a manager through its own API key, with the owner’s memberships', async () => {
    const key = await call(gh.apiKeys, 'createApiKey', { displayName: 'ops', roles: [] } as never, {
      token: tokens.managerA,
    });
    const secret = (key as { secret?: string }).secret ?? assert.fail('no key secret');
    const listed = await org(
      'listMembers',
      { organizationId: orgIds.a, pageSize: 0, pageToken: '' },
      secret,
    );
    assert.ok(listed.members.some((m) => m.userId === users.managerA));
    await expectRpcError(
      org('listMembers', { organizationId: orgIds.b, pageSize: 0, pageToken: '' }, secret),
      status.PERMISSION_DENIED,
      'PERMISSION_REQUIRED',
    );
  });

  it('never lets a manager remove or demote the last manager; an admin may', async () => {
    const orgId = await newOrganization('Solo');
    const solo = await newMember(orgId, [roles.manager]);
    const self = { organizationId: orgId, userId: solo.id, serviceAccountId: '' };
    const last = await expectRpcError(
      org('removeMember', self, solo.token),
      status.FAILED_PRECONDITION,
      'LAST_ORGANIZATION_MANAGER',
    );
    assert.match(last.message, /last manager/);
    await expectRpcError(
      org('setMemberRoles', { ...self, roleIds: [roles.reader] }, solo.token),
      status.FAILED_PRECONDITION,
      'LAST_ORGANIZATION_MANAGER',
    );
    // A second manager: now either may go, the first demoted by itself.
    const second = await newMember(orgId, [roles.manager]);
    await org('setMemberRoles', { ...self, roleIds: [roles.reader] }, solo.token);
    await expectRpcError(
      org(
        'removeMember',
        { organizationId: orgId, userId: second.id, serviceAccountId: '' },
        second.token,
      ),
      status.FAILED_PRECONDITION,
      'LAST_ORGANIZATION_MANAGER',
    );
    // Removing a member who is not a manager needs no other manager.
    await org('removeMember', self, second.token);
    // A global admin is not bound: it may leave the organisation without managers.
    await org(
      'removeMember',
      { organizationId: orgId, userId: second.id, serviceAccountId: '' },
      adminToken,
    );
    assert.deepEqual(await membersOf(orgId), []);
  });

  it('leaves exactly one manager when two remove each other at the same time', async () => {
    for (let round = 0; round < 6; round++) {
      const orgId = await newOrganization(`Pair ${round}`);
      const x = await newMember(orgId, [roles.manager]);
      const y = await newMember(orgId, [roles.manager]);
      const remove = (who: { token: string }, target: { id: string }) =>
        org(
          'removeMember',
          { organizationId: orgId, userId: target.id, serviceAccountId: '' },
          who.token,
        );
      const results = await Promise.allSettled([remove(x, y), remove(y, x)]);
      const ok = results.filter((r) => r.status === 'fulfilled');
      assert.equal(ok.length, 1, `round ${round}: exactly one removal succeeds`);
      const refused = results.find((r) => r.status === 'rejected');
      const s = rpcStatus(refused?.status === 'rejected' ? refused.reason : undefined);
      // The loser is either counted as the last manager, or (once the winner's change is seen)
      // no longer a manager at all.
      assert.ok(
        ['LAST_ORGANIZATION_MANAGER', 'PERMISSION_REQUIRED'].includes(s.errorInfo?.reason ?? ''),
        `round ${round}: ${s.errorInfo?.reason}`,
      );
      const left = await membersOf(orgId);
      assert.equal(left.length, 1, `round ${round}: one manager remains`);
      assert.deepEqual(left[0]?.role_ids, [roles.manager]);
    }
  });
});
