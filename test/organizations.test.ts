import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import pg from 'pg';
import {
  Organization,
  type OrganizationAdminServiceClient,
  OrganizationAdminServiceService,
  OrganizationStatus,
  Role,
  RoleScope,
} from '../src/gen/gatehouse/admin/v1/organization_admin_service.ts';
import { eventually } from './helpers/eventually.ts';
import { expectRpcError, rpcStatus } from './helpers/rpcError.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { registerUser } from './helpers/users.ts';

type AnyRequest = Record<string, unknown>;

/** A request for `method` built from its definition: the default message, every id unknown. */
function probeRequest(method: { requestDeserialize: (b: Buffer) => unknown }): AnyRequest {
  const req = method.requestDeserialize(Buffer.alloc(0)) as AnyRequest;
  for (const field of ['roleId', 'organizationId', 'userId', 'invitationId']) {
    if (field in req) req[field] = randomUUID();
  }
  if ('role' in req) req.role = Role.fromPartial({ id: randomUUID(), description: 'probe' });
  if ('organization' in req) {
    req.organization = Organization.fromPartial({ id: randomUUID(), displayName: 'probe' });
  }
  if ('email' in req) req.email = 'probe@example.test';
  if ('updateMask' in req) req.updateMask = 'role' in req ? ['description'] : ['display_name'];
  return req;
}

const ACTIONS: Record<string, string> = {
  definePermission: 'permission_define',
  listPermissions: 'permission_list',
  createRole: 'role_create',
  getRole: 'role_get',
  listRoles: 'role_list',
  updateRole: 'role_update',
  deleteRole: 'role_delete',
  createOrganization: 'organization_create',
  getOrganization: 'organization_get',
  listOrganizations: 'organization_list',
  updateOrganization: 'organization_update',
  deleteOrganization: 'organization_delete',
  addMember: 'member_add',
  listMembers: 'member_list',
  removeMember: 'member_remove',
  setMemberRoles: 'member_roles_set',
  createInvitation: 'invitation_create',
  listInvitations: 'invitation_list',
  revokeInvitation: 'invitation_revoke',
  // Imports (issue 14, phase 2).
  importOrganizations: 'organizations_import',
  importMemberships: 'memberships_import',
};

// Delegated administration: these also admit org:manage in the organisation, so a caller with
// neither that nor the admin role is refused with PERMISSION_REQUIRED instead.
const DELEGATED = new Set([
  'addMember',
  'listMembers',
  'removeMember',
  'setMemberRoles',
  'createInvitation',
  'listInvitations',
  'revokeInvitation',
]);

interface AuditRow {
  action: string;
  outcome: string;
  actor_user_id: string | null;
  subject_user_id: string | null;
  details: Record<string, unknown>;
}

describe('OrganizationAdminService', () => {
  let gh: Gatehouse;
  let token: string;
  before(async () => {
    gh = await startGatehouse();
    const u = await registerUser(gh);
    await gh.db.query(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [u.user.id]);
    token = u.tokens.accessToken;
  });
  after(async () => {
    await gh.stop();
  });

  /** A call of OrganizationAdminService, as the admin unless `options.token` says otherwise. */
  const org = <K extends keyof typeof OrganizationAdminServiceService & string>(
    method: K,
    req: Parameters<typeof call<OrganizationAdminServiceClient, K>>[2],
    options: { token?: string | undefined; metadata?: Record<string, string> } = {},
  ) => {
    const bearer = 'token' in options ? options.token : token;
    return call(gh.organizations, method, req, {
      ...(bearer === undefined ? {} : { token: bearer }),
      ...(options.metadata ? { metadata: options.metadata } : {}),
    });
  };
  const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
  const auditRows = (requestId: string) =>
    gh.db.query<AuditRow>(
      `SELECT action, outcome, actor_user_id, subject_user_id, details
       FROM audit_events WHERE request_id = $1`,
      [requestId],
    );

  it('guards every method before any lookup and audits every call once', async () => {
    const member = await registerUser(gh);
    const methods = Object.entries(OrganizationAdminServiceService);
    assert.deepEqual(methods.map(([n]) => n).sort(), Object.keys(ACTIONS).sort());
    const callers = [
      {
        who: 'no token',
        token: undefined,
        code: 'UNAUTHENTICATED',
        reason: 'INVALID_ACCESS_TOKEN',
      },
      {
        who: 'non-admin',
        token: member.tokens.accessToken,
        code: 'PERMISSION_DENIED',
        reason: 'ADMIN_ROLE_REQUIRED',
      },
      { who: 'admin', token, code: null, reason: null },
    ] as const;
    for (const [name, method] of methods) {
      for (const caller of callers) {
        const requestId = randomUUID();
        const req = probeRequest(method);
        let error: unknown;
        try {
          await org(name as never, req as never, {
            token: caller.token,
            metadata: { 'x-request-id': requestId },
          });
        } catch (e) {
          error = e;
        }
        if (caller.code !== null) {
          // An unknown id is PERMISSION_DENIED for a non-admin, never NOT_FOUND.
          const s = rpcStatus(error);
          assert.equal(status[s.grpcCode], caller.code, `${name} by ${caller.who}`);
          const reason =
            caller.reason === 'ADMIN_ROLE_REQUIRED' && DELEGATED.has(name)
              ? 'PERMISSION_REQUIRED'
              : caller.reason;
          assert.equal(s.errorInfo?.reason, reason, `${name} by ${caller.who}`);
        } else if (error !== undefined) {
          const s = rpcStatus(error);
          assert.ok(
            ['NOT_FOUND', 'INVALID_ARGUMENT'].includes(status[s.grpcCode] ?? ''),
            `${name} by admin answered ${status[s.grpcCode]} ${s.errorInfo?.reason}`,
          );
        }
        const rows = await auditRows(requestId);
        assert.equal(rows.length, 1, `${name} by ${caller.who}: exactly one audit event`);
        assert.equal(rows[0]?.action, ACTIONS[name], name);
        const outcome =
          caller.code === 'PERMISSION_DENIED'
            ? 'denied'
            : caller.code === null && error === undefined
              ? 'success'
              : 'failure';
        assert.equal(rows[0]?.outcome, outcome, `${name} by ${caller.who}`);
      }
    }
  });

  it('defines permissions and manages roles, refusing unknown permissions', async () => {
    const read = `${unique('doc')}:read`;
    const write = read.replace(':read', ':write');
    const defined = await org('definePermission', { name: read, description: 'Read docs' });
    assert.equal(defined.permission?.name, read);
    const again = await org('definePermission', { name: read, description: 'Read documents' });
    assert.equal(again.permission?.description, 'Read documents', 'define is an upsert');
    await org('definePermission', { name: write, description: '' });
    const bad = await expectRpcError(
      org('definePermission', { name: 'Doc:Read', description: '' }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.equal(bad.fieldViolations?.[0]?.field, 'name');
    const listed = await org('listPermissions', {});
    const names = listed.permissions.map((p) => p.name);
    assert.ok(names.includes('org:manage'), 'the built-in permissions are seeded');
    assert.ok(names.includes('authz:check'), 'the built-in permissions are seeded');
    assert.ok(names.includes(read) && names.includes(write));
    assert.equal(listed.truncated, false);

    const name = unique('editor');
    const unknown = await expectRpcError(
      org('createRole', {
        name,
        scope: RoleScope.ROLE_SCOPE_ORGANIZATION,
        permissions: [read, 'ghost:read'],
        description: '',
      }),
      status.INVALID_ARGUMENT,
      'UNKNOWN_PERMISSION',
    );
    assert.deepEqual(
      unknown.fieldViolations?.map((v) => v.field),
      ['permissions[1]'],
      "the violation names the unknown permission's place in the request",
    );
    await expectRpcError(
      org('createRole', { name, scope: 0, permissions: [], description: '' }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    const created = await org('createRole', {
      name,
      scope: RoleScope.ROLE_SCOPE_ORGANIZATION,
      permissions: [write, read, read],
      description: 'Edits docs',
    });
    const role = created.role;
    assert.ok(role);
    assert.deepEqual(role.permissions, [read, write].sort(), 'sorted, no duplicates');
    await expectRpcError(
      org('createRole', {
        name,
        scope: RoleScope.ROLE_SCOPE_ORGANIZATION,
        permissions: [],
        description: '',
      }),
      status.ALREADY_EXISTS,
      'ROLE_NAME_TAKEN',
    );
    const globalRole = await org('createRole', {
      name,
      scope: RoleScope.ROLE_SCOPE_GLOBAL,
      permissions: [read],
      description: '',
    });
    assert.equal(globalRole.role?.scope, RoleScope.ROLE_SCOPE_GLOBAL, 'names are unique per scope');

    assert.deepEqual((await org('getRole', { roleId: role.id.toUpperCase() })).role, role);
    const globals = await org('listRoles', { scope: RoleScope.ROLE_SCOPE_GLOBAL });
    assert.ok(globals.roles.every((r) => r.scope === RoleScope.ROLE_SCOPE_GLOBAL));
    assert.ok(globals.roles.some((r) => r.id === globalRole.role?.id));

    // A role change is announced as 'authz' to every listener.
    const listener = new pg.Client({ connectionString: gh.db.url });
    await listener.connect();
    const payloads: string[] = [];
    listener.on('notification', (n) => payloads.push(n.payload ?? ''));
    await listener.query('LISTEN gatehouse_session_changes');
    try {
      await expectRpcError(
        org('updateRole', {
          role: { ...role, permissions: ['ghost:read'] },
          updateMask: ['permissions'],
        }),
        status.INVALID_ARGUMENT,
        'UNKNOWN_PERMISSION',
      );
      await expectRpcError(
        org('updateRole', { role: { ...role, name: 'other' }, updateMask: ['name'] }),
        status.INVALID_ARGUMENT,
        'VALIDATION_FAILED',
      );
      const updated = await org('updateRole', {
        role: { ...role, permissions: [read], description: 'Reads docs' },
        updateMask: ['permissions', 'description'],
      });
      assert.deepEqual(updated.role?.permissions, [read]);
      assert.equal(updated.role?.description, 'Reads docs');
      await eventually(
        async () => payloads,
        (p) => p.includes('authz'),
        { what: "the 'authz' notification" },
      );
    } finally {
      await listener.end();
    }

    await org('deleteRole', { roleId: role.id });
    await expectRpcError(org('getRole', { roleId: role.id }), status.NOT_FOUND, 'ROLE_NOT_FOUND');
    await expectRpcError(
      org('deleteRole', { roleId: role.id }),
      status.NOT_FOUND,
      'ROLE_NOT_FOUND',
    );
  });

  it('creates, reads, lists, updates and deletes organisations; slugs are unique', async () => {
    const slug = unique('acme');
    const requestId = randomUUID();
    const created = await org(
      'createOrganization',
      { slug, displayName: 'Acme', attributes: { region: 'eu' } },
      { metadata: { 'x-request-id': requestId } },
    );
    const acme = created.organization;
    assert.ok(acme);
    assert.equal(acme.status, OrganizationStatus.ORGANIZATION_STATUS_ACTIVE);
    assert.deepEqual(acme.attributes, { region: 'eu' });
    const [row] = await auditRows(requestId);
    assert.equal(row?.details.organization_id, acme.id);

    await expectRpcError(
      org('createOrganization', { slug, displayName: '', attributes: {} }),
      status.ALREADY_EXISTS,
      'ORGANIZATION_SLUG_TAKEN',
    );
    const bad = await expectRpcError(
      org('createOrganization', {
        slug: '-Bad',
        displayName: 'x'.repeat(101),
        attributes: { 'Not A Key': 'v' },
      }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.deepEqual(bad.fieldViolations?.map((v) => v.field).sort(), [
      'attributes["Not A Key"]',
      'display_name',
      'slug',
    ]);

    assert.deepEqual(
      (await org('getOrganization', { organizationId: acme.id })).organization,
      acme,
    );
    const second = await org('createOrganization', {
      slug: unique('beta'),
      displayName: '',
      attributes: {},
    });
    const first = await org('listOrganizations', { pageSize: 1, pageToken: '', status: 0 });
    assert.equal(first.organizations.length, 1);
    assert.notEqual(first.nextPageToken, '');
    const seen = [...first.organizations];
    let pageToken = first.nextPageToken;
    while (pageToken !== '') {
      const next = await org('listOrganizations', { pageSize: 1, pageToken, status: 0 });
      seen.push(...next.organizations);
      pageToken = next.nextPageToken;
    }
    assert.deepEqual(
      seen.map((o) => o.id).filter((id) => id === acme.id || id === second.organization?.id),
      [acme.id, second.organization?.id],
      'oldest first, each once',
    );
    await expectRpcError(
      org('listOrganizations', {
        pageSize: 1,
        pageToken: first.nextPageToken,
        status: OrganizationStatus.ORGANIZATION_STATUS_DISABLED,
      }),
      status.INVALID_ARGUMENT,
      'INVALID_PAGE_TOKEN',
    );

    const updated = await org('updateOrganization', {
      organization: {
        ...acme,
        displayName: 'Acme Ltd',
        attributes: { tier: 'gold' },
        status: OrganizationStatus.ORGANIZATION_STATUS_DISABLED,
      },
      updateMask: ['display_name', 'attributes', 'status'],
    });
    assert.equal(updated.organization?.displayName, 'Acme Ltd');
    assert.deepEqual(updated.organization?.attributes, { tier: 'gold' });
    assert.equal(updated.organization?.status, OrganizationStatus.ORGANIZATION_STATUS_DISABLED);
    await expectRpcError(
      org('updateOrganization', {
        organization: { ...acme, status: OrganizationStatus.ORGANIZATION_STATUS_DELETED },
        updateMask: ['status'],
      }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    const disabled = await org('listOrganizations', {
      pageSize: 500,
      pageToken: '',
      status: OrganizationStatus.ORGANIZATION_STATUS_DISABLED,
    });
    assert.deepEqual(
      disabled.organizations.map((o) => o.id),
      [acme.id],
    );

    await org('deleteOrganization', { organizationId: acme.id });
    await expectRpcError(
      org('getOrganization', { organizationId: acme.id }),
      status.NOT_FOUND,
      'ORGANIZATION_NOT_FOUND',
    );
    await expectRpcError(
      org('deleteOrganization', { organizationId: acme.id }),
      status.NOT_FOUND,
      'ORGANIZATION_NOT_FOUND',
    );
    const reused = await org('createOrganization', { slug, displayName: '', attributes: {} });
    assert.notEqual(reused.organization?.id, acme.id, 'a deleted organisation frees its slug');
  });

  it('adds, lists, re-roles and removes members with organisation-scope roles only', async () => {
    const acme = (
      await org('createOrganization', { slug: unique('members'), displayName: '', attributes: {} })
    ).organization;
    assert.ok(acme);
    const perm = `${unique('ticket')}:read`;
    await org('definePermission', { name: perm, description: '' });
    const newRole = async (scope: RoleScope) =>
      (await org('createRole', { name: unique('r'), scope, permissions: [perm], description: '' }))
        .role?.id ?? '';
    const agent = await newRole(RoleScope.ROLE_SCOPE_ORGANIZATION);
    const lead = await newRole(RoleScope.ROLE_SCOPE_ORGANIZATION);
    const global = await newRole(RoleScope.ROLE_SCOPE_GLOBAL);
    const alice = await registerUser(gh);
    const account = await call(
      gh.serviceAccounts,
      'createServiceAccount',
      { name: unique('bot'), displayName: '', description: '', roles: [] },
      { token },
    );
    const botId = account.serviceAccount?.id ?? '';
    const base = { organizationId: acme.id, userId: '', serviceAccountId: '' };

    const requestId = randomUUID();
    const added = await org(
      'addMember',
      { ...base, userId: alice.user.id, roleIds: [agent] },
      { metadata: { 'x-request-id': requestId } },
    );
    assert.equal(added.member?.userId, alice.user.id);
    assert.deepEqual(added.member?.roleIds, [agent]);
    const [row] = await auditRows(requestId);
    assert.equal(row?.subject_user_id, alice.user.id, 'the member is the subject');
    assert.equal(row?.details.organization_id, acme.id);

    await expectRpcError(
      org('addMember', { ...base, userId: alice.user.id, roleIds: [] }),
      status.ALREADY_EXISTS,
      'ALREADY_MEMBER',
    );
    const wrongScope = await expectRpcError(
      org('addMember', { ...base, serviceAccountId: botId, roleIds: [global] }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.equal(wrongScope.fieldViolations?.[0]?.field, 'role_ids[0]');
    await expectRpcError(
      org('addMember', { ...base, serviceAccountId: botId, roleIds: [randomUUID()] }),
      status.NOT_FOUND,
      'ROLE_NOT_FOUND',
    );
    await expectRpcError(
      org('addMember', { ...base, userId: randomUUID(), roleIds: [] }),
      status.NOT_FOUND,
      'USER_NOT_FOUND',
    );
    await expectRpcError(
      org('addMember', { ...base, userId: alice.user.id, serviceAccountId: botId, roleIds: [] }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    await expectRpcError(
      org('addMember', {
        ...base,
        organizationId: randomUUID(),
        userId: alice.user.id,
        roleIds: [],
      }),
      status.NOT_FOUND,
      'ORGANIZATION_NOT_FOUND',
    );
    const botRequest = randomUUID();
    const bot = await org(
      'addMember',
      { ...base, serviceAccountId: botId, roleIds: [] },
      { metadata: { 'x-request-id': botRequest } },
    );
    assert.equal(bot.member?.serviceAccountId, botId);
    const [botRow] = await auditRows(botRequest);
    assert.equal(botRow?.subject_user_id, null, 'a service account is not a subject user');
    assert.equal(botRow?.details.service_account_id, botId);

    const page1 = await org('listMembers', { organizationId: acme.id, pageSize: 1, pageToken: '' });
    assert.equal(page1.members[0]?.userId, alice.user.id, 'in joining order');
    const page2 = await org('listMembers', {
      organizationId: acme.id,
      pageSize: 1,
      pageToken: page1.nextPageToken,
    });
    assert.equal(page2.members[0]?.serviceAccountId, botId);
    assert.equal(page2.nextPageToken, '');

    const reroled = await org('setMemberRoles', {
      ...base,
      serviceAccountId: botId,
      roleIds: [lead, agent],
    });
    assert.deepEqual(reroled.member?.roleIds, [lead, agent].sort());
    await expectRpcError(
      org('setMemberRoles', { ...base, userId: alice.user.id, roleIds: [global] }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    const cleared = await org('setMemberRoles', { ...base, userId: alice.user.id, roleIds: [] });
    assert.deepEqual(cleared.member?.roleIds, []);
    await org('deleteRole', { roleId: lead });
    const afterDelete = await org('listMembers', {
      organizationId: acme.id,
      pageSize: 0,
      pageToken: '',
    });
    assert.deepEqual(
      afterDelete.members.find((m) => m.serviceAccountId === botId)?.roleIds,
      [agent],
      'a deleted role is taken from every membership',
    );

    await org('removeMember', { ...base, userId: alice.user.id });
    await expectRpcError(
      org('removeMember', { ...base, userId: alice.user.id }),
      status.NOT_FOUND,
      'MEMBERSHIP_NOT_FOUND',
    );
    await expectRpcError(
      org('setMemberRoles', { ...base, userId: alice.user.id, roleIds: [] }),
      status.NOT_FOUND,
      'MEMBERSHIP_NOT_FOUND',
    );
    const left = await org('listMembers', { organizationId: acme.id, pageSize: 0, pageToken: '' });
    assert.deepEqual(
      left.members.map((m) => m.serviceAccountId),
      [botId],
    );
  });
});
