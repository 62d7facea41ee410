import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import {
  type ImportedMembership,
  type ImportedOrganization,
  ImportOutcome,
  type OrganizationAdminServiceClient,
  type OrganizationAdminServiceService,
  OrganizationStatus,
  RoleScope,
} from '../src/gen/gatehouse/admin/v1/organization_admin_service.ts';
import { expectRpcError } from './helpers/rpcError.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { registerUser, uniqueEmail } from './helpers/users.ts';

const { IMPORT_OUTCOME_CREATED, IMPORT_OUTCOME_UPDATED, IMPORT_OUTCOME_UNCHANGED } = ImportOutcome;
const FAILED = ImportOutcome.IMPORT_OUTCOME_FAILED;

const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

interface AuditRow {
  action: string;
  outcome: string;
  actor_user_id: string | null;
  details: Record<string, unknown>;
}

/** A membership row: the organisation and member oneofs from plain values. */
function membership(
  org: { id: string } | { slug: string } | null,
  member: { userId: string } | { userEmail: string } | { serviceAccountId: string } | null,
  roles: string[] = [],
): ImportedMembership {
  const organization =
    org === null
      ? undefined
      : 'id' in org
        ? ({ $case: 'organizationId', value: org.id } as const)
        : ({ $case: 'organizationSlug', value: org.slug } as const);
  const who =
    member === null
      ? undefined
      : 'userId' in member
        ? ({ $case: 'userId', value: member.userId } as const)
        : 'userEmail' in member
          ? ({ $case: 'userEmail', value: member.userEmail } as const)
          : ({ $case: 'serviceAccountId', value: member.serviceAccountId } as const);
  return { organization, member: who, roles };
}

const hotel = (slug: string, over: Partial<ImportedOrganization> = {}): ImportedOrganization => ({
  slug,
  displayName: `Hotel ${slug}`,
  attributes: {},
  ...over,
});

describe('ImportOrganizations and ImportMemberships', () => {
  let gh: Gatehouse;
  let token: string;
  let adminId: string;
  let userToken: string;
  before(async () => {
    // 1001 membership rows by id are ~80 KB: above the 64 KiB default message limit.
    gh = await startGatehouse({ GRPC_MAX_MESSAGE_BYTES: String(1024 * 1024) });
    const admin = await registerUser(gh);
    await gh.db.query(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [admin.user.id]);
    token = admin.tokens.accessToken;
    adminId = admin.user.id;
    userToken = (await registerUser(gh)).tokens.accessToken;
  });
  after(async () => {
    await gh.stop();
  });

  /** A call of OrganizationAdminService, as the admin unless `options.token` says otherwise. */
  const org = <K extends keyof typeof OrganizationAdminServiceService & string>(
    method: K,
    req: Parameters<typeof call<OrganizationAdminServiceClient, K>>[2],
    options: { token?: string | undefined; requestId?: string } = {},
  ) => {
    const bearer = 'token' in options ? options.token : token;
    return call(gh.organizations, method, req, {
      ...(bearer === undefined ? {} : { token: bearer }),
      ...(options.requestId ? { metadata: { 'x-request-id': options.requestId } } : {}),
    });
  };
  const auditRows = (requestId: string) =>
    gh.db.query<AuditRow>(
      `SELECT action, outcome, actor_user_id, details FROM audit_events WHERE request_id = $1`,
      [requestId],
    );
  const orgRole = async (name: string) => {
    const perm = `${unique('p')}:use`;
    await org('definePermission', { name: perm, description: '' });
    const res = await org('createRole', {
      name,
      scope: RoleScope.ROLE_SCOPE_ORGANIZATION,
      permissions: [perm],
      description: '',
    });
    return res.role?.id ?? '';
  };
  const members = async (organizationId: string) =>
    (await org('listMembers', { organizationId, pageSize: 500, pageToken: '' })).members;

  it('is admin only, checked before any validation, and audits each call once with counts', async () => {
    const slug = unique('guarded');
    const cases = [
      {
        method: 'importOrganizations',
        action: 'organizations_import',
        req: { organizations: [hotel(slug)] },
      },
      {
        method: 'importMemberships',
        action: 'memberships_import',
        req: { memberships: [membership({ slug }, { userId: adminId })] },
      },
    ] as const;
    for (const c of cases) {
      for (const caller of [
        { token: undefined, code: status.UNAUTHENTICATED, reason: 'INVALID_ACCESS_TOKEN' },
        { token: userToken, code: status.PERMISSION_DENIED, reason: 'ADMIN_ROLE_REQUIRED' },
      ]) {
        const requestId = randomUUID();
        await expectRpcError(
          org(c.method, c.req as never, { token: caller.token, requestId }),
          caller.code,
          caller.reason,
        );
        const rows = await auditRows(requestId);
        assert.equal(rows.length, 1, `${c.method}: one audit event`);
        assert.equal(rows[0]?.action, c.action);
        assert.equal(rows[0]?.outcome, caller.token === undefined ? 'failure' : 'denied');
      }
      // A non-admin's call with an invalid batch is still PERMISSION_DENIED, not INVALID_ARGUMENT.
      const empty =
        c.method === 'importOrganizations' ? { organizations: [] } : { memberships: [] };
      await expectRpcError(
        org(c.method, empty as never, { token: userToken }),
        status.PERMISSION_DENIED,
        'ADMIN_ROLE_REQUIRED',
      );
    }
    const [denied] = await gh.db.query(`SELECT id FROM organizations WHERE slug = $1`, [slug]);
    assert.equal(denied, undefined, 'a refused call wrote nothing');

    for (const c of cases) {
      const requestId = randomUUID();
      const res = await org(c.method, c.req as never, { requestId });
      assert.equal(res.results[0]?.outcome, IMPORT_OUTCOME_CREATED, c.method);
      const rows = await auditRows(requestId);
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.outcome, 'success');
      assert.equal(rows[0]?.actor_user_id, adminId);
      assert.deepEqual(rows[0]?.details, {
        requested: 1,
        created: 1,
        updated: 0,
        unchanged: 0,
        failed: 0,
      });
    }
  });

  it('refuses empty and oversized batches as a whole', async () => {
    const tooMany = Array.from({ length: 501 }, (_, i) => hotel(`many-${i}`));
    for (const [organizations, reason] of [
      [[], 'REQUIRED'],
      [tooMany, 'TOO_MANY'],
    ] as const) {
      const s = await expectRpcError(
        org('importOrganizations', { organizations: [...organizations] }),
        status.INVALID_ARGUMENT,
        'VALIDATION_FAILED',
      );
      assert.equal(s.fieldViolations?.[0]?.field, 'organizations');
      assert.equal(s.fieldViolations?.[0]?.reason, reason);
    }
    const [many] = await gh.db.query(`SELECT id FROM organizations WHERE slug = 'many-0'`);
    assert.equal(many, undefined, 'nothing of a refused batch is written');
    const row = membership({ id: randomUUID() }, { userId: adminId });
    for (const [memberships, reason] of [
      [[], 'REQUIRED'],
      [Array.from({ length: 1001 }, () => row), 'TOO_MANY'],
    ] as const) {
      const s = await expectRpcError(
        org('importMemberships', { memberships: [...memberships] }),
        status.INVALID_ARGUMENT,
        'VALIDATION_FAILED',
      );
      assert.equal(s.fieldViolations?.[0]?.field, 'memberships');
      assert.equal(s.fieldViolations?.[0]?.reason, reason);
    }
    // The largest batch is accepted: 500 organisations in one call.
    const prefix = unique('full');
    const full = await org('importOrganizations', {
      organizations: Array.from({ length: 500 }, (_, i) => hotel(`${prefix}-${i}`)),
    });
    assert.equal(full.createdCount, 500);
  });

  it('upserts organisations by slug: created, updated, unchanged, per-row failures', async () => {
    const [a, b, c] = [unique('lis'), unique('opo'), unique('fao')];
    const first = await org('importOrganizations', {
      organizations: [hotel(a, { attributes: { hotel_id: '1' } }), hotel(b), hotel(c)],
    });
    assert.deepEqual(
      first.results.map((r) => r.outcome),
      [IMPORT_OUTCOME_CREATED, IMPORT_OUTCOME_CREATED, IMPORT_OUTCOME_CREATED],
    );
    const [idA, idB, idC] = first.results.map((r) => r.organizationId);
    await org('updateOrganization', {
      organization: {
        id: idC ?? '',
        slug: c,
        displayName: '',
        attributes: {},
        status: OrganizationStatus.ORGANIZATION_STATUS_DISABLED,
      },
      updateMask: ['status'],
    });

    const rows = [
      hotel(a, { attributes: { hotel_id: '1' } }),
      hotel(b, { displayName: 'Porto Riverside', attributes: { hotel_id: '2' } }),
      hotel(c, { attributes: { hotel_id: '3' } }),
      hotel('-Bad'),
      hotel(unique('attrs'), { attributes: { 'Not A Key': 'v' } }),
      hotel(b, { displayName: 'A second record of Porto' }),
      hotel(unique('long'), { displayName: 'x'.repeat(101) }),
    ];
    const requestId = randomUUID();
    const second = await org('importOrganizations', { organizations: rows }, { requestId });
    assert.deepEqual(
      second.results.map((r) => [r.index, r.outcome, r.errorReason, r.errorField]),
      [
        [0, IMPORT_OUTCOME_UNCHANGED, '', ''],
        [1, IMPORT_OUTCOME_UPDATED, '', ''],
        [2, IMPORT_OUTCOME_UPDATED, '', ''],
        [3, FAILED, 'VALIDATION_FAILED', 'slug'],
        [4, FAILED, 'VALIDATION_FAILED', 'attributes["Not A Key"]'],
        [5, FAILED, 'VALIDATION_FAILED', 'slug'],
        [6, FAILED, 'VALIDATION_FAILED', 'display_name'],
      ],
    );
    assert.deepEqual(
      second.results.slice(0, 3).map((r) => r.organizationId),
      [idA, idB, idC],
      'matched by slug',
    );
    assert.match(second.results[5]?.errorMessage ?? '', /row 1/, 'names the earlier row');
    assert.ok(second.results.slice(3).every((r) => r.organizationId === ''));
    assert.deepEqual(
      [second.createdCount, second.updatedCount, second.unchangedCount, second.failedCount],
      [0, 2, 1, 4],
    );
    const [event] = await auditRows(requestId);
    assert.deepEqual(event?.details, {
      requested: 7,
      created: 0,
      updated: 2,
      unchanged: 1,
      failed: 4,
    });

    const porto = (await org('getOrganization', { organizationId: idB ?? '' })).organization;
    assert.equal(porto?.displayName, 'Porto Riverside', 'the first row of a slug wins; no reorder');
    assert.deepEqual(porto?.attributes, { hotel_id: '2' });
    const faro = (await org('getOrganization', { organizationId: idC ?? '' })).organization;
    assert.equal(faro?.status, OrganizationStatus.ORGANIZATION_STATUS_DISABLED, 'status is kept');
    assert.deepEqual(faro?.attributes, { hotel_id: '3' });

    // The same import again: every valid row unchanged, nothing written.
    const before = await gh.db.query<{ slug: string; updated_at: Date }>(
      `SELECT slug, updated_at FROM organizations WHERE slug = ANY($1) ORDER BY slug`,
      [[a, b, c]],
    );
    const third = await org('importOrganizations', { organizations: rows.slice(0, 3) });
    assert.deepEqual(
      third.results.map((r) => r.outcome),
      [IMPORT_OUTCOME_UNCHANGED, IMPORT_OUTCOME_UNCHANGED, IMPORT_OUTCOME_UNCHANGED],
    );
    const afterRerun = await gh.db.query<{ slug: string; updated_at: Date }>(
      `SELECT slug, updated_at FROM organizations WHERE slug = ANY($1) ORDER BY slug`,
      [[a, b, c]],
    );
    assert.deepEqual(afterRerun, before, 'a re-run writes nothing');

    // A deleted organisation frees its slug: importing it creates a new one.
    await org('deleteOrganization', { organizationId: idA ?? '' });
    const revived = await org('importOrganizations', { organizations: [hotel(a)] });
    assert.equal(revived.results[0]?.outcome, IMPORT_OUTCOME_CREATED);
    assert.notEqual(revived.results[0]?.organizationId, idA);
  });

  it('creates memberships or replaces their roles, by role name, with per-row failures', async () => {
    const [slugA, slugB, slugGone] = [unique('hotel-a'), unique('hotel-b'), unique('gone')];
    const orgs = await org('importOrganizations', {
      organizations: [hotel(slugA), hotel(slugB), hotel(slugGone)],
    });
    const [orgA, orgB, orgGone] = orgs.results.map((r) => r.organizationId ?? '') as [
      string,
      string,
      string,
    ];
    await org('deleteOrganization', { organizationId: orgGone });
    const [deskName, managerName] = [unique('desk'), unique('manager')];
    const desk = await orgRole(deskName);
    const manager = await orgRole(managerName);
    const globalName = unique('global');
    await org('createRole', {
      name: globalName,
      scope: RoleScope.ROLE_SCOPE_GLOBAL,
      permissions: [],
      description: '',
    });
    const alice = await registerUser(gh, { email: uniqueEmail('alice') });
    const bob = await registerUser(gh);
    const sa = await call(
      gh.serviceAccounts,
      'createServiceAccount',
      { name: unique('bot'), displayName: '', description: '', roles: [] },
      { token },
    );
    const botId = sa.serviceAccount?.id ?? '';

    const valid = [
      membership({ slug: slugA }, { userEmail: `  ${alice.email.toUpperCase()} ` }, [deskName]),
      membership({ id: orgA.toUpperCase() }, { userId: bob.user.id }, []),
      membership({ id: orgB }, { serviceAccountId: botId }, [managerName, deskName, deskName]),
    ];
    const invalid = [
      membership({ id: orgA }, { userId: alice.user.id }, []),
      membership({ slug: slugA }, { userEmail: uniqueEmail('nobody') }, []),
      membership({ slug: unique('no-such') }, { userId: bob.user.id }, []),
      membership({ slug: slugGone }, { userId: bob.user.id }, []),
      membership({ slug: slugB }, { userId: bob.user.id }, [deskName, globalName]),
      membership({ slug: slugB }, { userId: bob.user.id }, [unique('ghost')]),
      membership(null, { userId: bob.user.id }, []),
      membership({ slug: slugB }, null, []),
      membership({ slug: slugB }, { userId: 'not-a-uuid' }, []),
      membership({ slug: slugB }, { userEmail: 'not an email' }, []),
      membership({ slug: slugB }, { serviceAccountId: randomUUID() }, []),
      membership({ slug: slugB }, { userId: randomUUID() }, []),
      membership({ slug: slugB }, { userId: bob.user.id }, ['Not A Role']),
    ];
    const requestId = randomUUID();
    const res = await org(
      'importMemberships',
      { memberships: [...valid, ...invalid] },
      { requestId },
    );
    assert.deepEqual(
      res.results.map((r) => [r.index, r.outcome, r.errorReason, r.errorField]),
      [
        [0, IMPORT_OUTCOME_CREATED, '', ''],
        [1, IMPORT_OUTCOME_CREATED, '', ''],
        [2, IMPORT_OUTCOME_CREATED, '', ''],
        [3, FAILED, 'VALIDATION_FAILED', 'member'],
        [4, FAILED, 'USER_NOT_FOUND', 'user_email'],
        [5, FAILED, 'ORGANIZATION_NOT_FOUND', 'organization_slug'],
        [6, FAILED, 'ORGANIZATION_NOT_FOUND', 'organization_slug'],
        [7, FAILED, 'ROLE_NOT_FOUND', 'roles[1]'],
        [8, FAILED, 'ROLE_NOT_FOUND', 'roles[0]'],
        [9, FAILED, 'VALIDATION_FAILED', 'organization'],
        [10, FAILED, 'VALIDATION_FAILED', 'member'],
        [11, FAILED, 'VALIDATION_FAILED', 'user_id'],
        [12, FAILED, 'VALIDATION_FAILED', 'user_email'],
        [13, FAILED, 'SERVICE_ACCOUNT_NOT_FOUND', 'service_account_id'],
        [14, FAILED, 'USER_NOT_FOUND', 'user_id'],
        [15, FAILED, 'VALIDATION_FAILED', 'roles[0]'],
      ],
    );
    assert.match(res.results[3]?.errorMessage ?? '', /row 0/);
    assert.match(
      res.results[7]?.errorMessage ?? '',
      new RegExp(globalName),
      'a global role is no organisation role',
    );
    assert.equal(res.results[4]?.organizationId, orgA, 'the organisation found is reported');
    assert.deepEqual(
      [res.createdCount, res.updatedCount, res.unchangedCount, res.failedCount],
      [3, 0, 0, 13],
    );
    const [event] = await auditRows(requestId);
    assert.deepEqual(event?.details, {
      requested: 16,
      created: 3,
      updated: 0,
      unchanged: 0,
      failed: 13,
    });

    // One transaction: the same created_at, so members list in id order; compare by member.
    const byUser = (list: Awaited<ReturnType<typeof members>>) =>
      Object.fromEntries(list.map((m) => [m.userId, { id: m.id, roleIds: m.roleIds }]));
    const inA = byUser(await members(orgA));
    assert.deepEqual(
      Object.fromEntries(Object.entries(inA).map(([user, m]) => [user, m.roleIds])),
      { [alice.user.id]: [desk], [bob.user.id]: [] },
    );
    const inB = await members(orgB);
    assert.deepEqual(
      inB.map((m) => [m.serviceAccountId, m.roleIds]),
      [[botId, [desk, manager].sort()]],
      'a member is named by the role names, duplicates once',
    );
    assert.deepEqual(
      res.results.slice(0, 3).map((r) => r.membershipId),
      [inA[alice.user.id]?.id, inA[bob.user.id]?.id, inB[0]?.id],
    );

    // Again: nothing changes; then a changed row replaces the roles.
    const again = await org('importMemberships', { memberships: valid });
    assert.deepEqual(
      again.results.map((r) => [r.outcome, r.membershipId]),
      res.results.slice(0, 3).map((r) => [IMPORT_OUTCOME_UNCHANGED, r.membershipId]),
    );
    const [rolesBefore] = await gh.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM membership_roles`,
    );
    assert.deepEqual(byUser(await members(orgA)), inA, 'a re-run writes nothing');
    const changed = await org('importMemberships', {
      memberships: [
        membership({ slug: slugA }, { userId: alice.user.id }, [managerName]),
        membership({ slug: slugA }, { userId: bob.user.id }, []),
      ],
    });
    assert.deepEqual(
      changed.results.map((r) => r.outcome),
      [IMPORT_OUTCOME_UPDATED, IMPORT_OUTCOME_UNCHANGED],
    );
    const [rolesAfter] = await gh.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM membership_roles`,
    );
    assert.equal(rolesAfter?.n, rolesBefore?.n, 'one role replaced by another');
    assert.deepEqual(
      byUser(await members(orgA)),
      {
        [alice.user.id]: { id: inA[alice.user.id]?.id, roleIds: [manager] },
        [bob.user.id]: { id: inA[bob.user.id]?.id, roleIds: [] },
      },
      'the same membership, its roles replaced',
    );
  });

  it('ListUsers by organisation: members only, with the other filters and paging', async () => {
    const slug = unique('staff');
    const created = await org('importOrganizations', { organizations: [hotel(slug)] });
    const organizationId = created.results[0]?.organizationId ?? '';
    const other = await org('importOrganizations', { organizations: [hotel(unique('other'))] });
    const otherId = other.results[0]?.organizationId ?? '';
    const prefix = unique('ana').replace('-', '');
    const ana = await registerUser(gh, { email: `${prefix}@example.test` });
    const ben = await registerUser(gh);
    const outsider = await registerUser(gh);
    const sa = await call(
      gh.serviceAccounts,
      'createServiceAccount',
      { name: unique('svc'), displayName: '', description: '', roles: [] },
      { token },
    );
    await org('importMemberships', {
      memberships: [
        membership({ slug }, { userId: ana.user.id }),
        membership({ slug }, { userId: ben.user.id }),
        membership({ slug }, { serviceAccountId: sa.serviceAccount?.id ?? '' }),
        membership({ id: otherId }, { userId: outsider.user.id }),
      ],
    });
    const list = (over: {
      organizationId?: string;
      pageToken?: string;
      query?: string;
      pageSize?: number;
    }) =>
      call(
        gh.admin,
        'listUsers',
        { pageSize: 1, pageToken: '', query: '', role: '', status: 0, ...over },
        { token },
      );

    const first = await list({ organizationId });
    assert.deepEqual(
      first.users.map((u) => u.user?.id),
      [ana.user.id],
    );
    assert.notEqual(first.nextPageToken, '');
    const second = await list({ organizationId, pageToken: first.nextPageToken });
    assert.deepEqual(
      second.users.map((u) => u.user?.id),
      [ben.user.id],
    );
    assert.equal(second.nextPageToken, '', 'service accounts are no users; outsiders not listed');
    for (const bound of [{ organizationId: otherId }, {}]) {
      await expectRpcError(
        list({ ...bound, pageToken: first.nextPageToken }),
        status.INVALID_ARGUMENT,
        'INVALID_PAGE_TOKEN',
      );
    }
    const byQuery = await list({ organizationId, query: prefix, pageSize: 10 });
    assert.deepEqual(
      byQuery.users.map((u) => u.user?.id),
      [ana.user.id],
      'combined with the other filters',
    );
    const none = await list({ organizationId: randomUUID(), pageSize: 10 });
    assert.deepEqual(none.users, [], 'no such organisation: no members');
    const all = await list({ organizationId: '', pageSize: 500 });
    assert.ok(
      all.users.some((u) => u.user?.id === outsider.user.id),
      'empty matches all',
    );
    const bad = await expectRpcError(
      list({ organizationId: 'hotel-a' }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.equal(bad.fieldViolations?.[0]?.field, 'organization_id');
  });

  it('ListAuditEvents by organisation: events about it, with the other filters and paging', async () => {
    const created = await org('importOrganizations', {
      organizations: [hotel(unique('audited')), hotel(unique('elsewhere'))],
    });
    const [orgA, orgB] = created.results.map((r) => r.organizationId ?? '') as [string, string];
    const u = await registerUser(gh);
    const base = { organizationId: orgA, userId: u.user.id, serviceAccountId: '' };
    await org('addMember', { ...base, roleIds: [] });
    await org('setMemberRoles', { ...base, roleIds: [] });
    await org('updateOrganization', {
      organization: {
        id: orgA,
        slug: '',
        displayName: 'Renamed',
        attributes: {},
        status: 0,
      },
      updateMask: ['display_name'],
    });
    await org('addMember', { ...base, organizationId: orgB, roleIds: [] });
    const list = (over: { organizationId?: string; pageToken?: string; action?: string }) =>
      call(
        gh.admin,
        'listAuditEvents',
        { pageSize: 2, pageToken: '', userId: '', action: '', ...over },
        { token },
      );

    const first = await list({ organizationId: orgA });
    assert.deepEqual(
      first.events.map((e) => e.action),
      ['organization_update', 'member_roles_set'],
      'newest first',
    );
    const second = await list({ organizationId: orgA, pageToken: first.nextPageToken });
    assert.deepEqual(
      second.events.map((e) => e.action),
      ['member_add'],
    );
    assert.equal(second.nextPageToken, '');
    for (const e of [...first.events, ...second.events]) {
      assert.equal(JSON.parse(e.detailsJson).organization_id, orgA);
    }
    await expectRpcError(
      list({ organizationId: orgB, pageToken: first.nextPageToken }),
      status.INVALID_ARGUMENT,
      'INVALID_PAGE_TOKEN',
    );
    const adds = await list({ organizationId: orgB, action: 'member_add' });
    assert.equal(adds.events.length, 1, 'combined with the action filter');
    assert.equal(JSON.parse(adds.events[0]?.detailsJson ?? '{}').organization_id, orgB);
    const bad = await expectRpcError(
      list({ organizationId: 'not-a-uuid' }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.equal(bad.fieldViolations?.[0]?.field, 'organization_id');
  });
});
