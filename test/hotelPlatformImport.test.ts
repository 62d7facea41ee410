import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { Role } from '../src/gen/gatehouse/admin/v1/organization_admin_service.ts';
import {
  AuthorizationServiceClient,
  type BatchCheckPermissionsRequest,
  type BatchCheckPermissionsResponse,
} from '../src/gen/gatehouse/authz/v1/authorization_service.ts';
import { bufCurl } from './helpers/bufCurl.ts';
import { expectRpcError } from './helpers/rpcError.ts';
import { runCli } from './helpers/runCli.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { createTestDatabase, type TestDatabase } from './helpers/testDatabase.ts';

/**
 * docs/importing-organisations.md, step by step: the doc's own SQL (read from the page, so the
 * page cannot drift from what is tested) runs against a scratch copy of the hotel platform's
 * database, and each JSON batch goes to Gatehouse with `buf curl` as the page prints it; the
 * outputs the page shows are compared where they carry no ids. Then the outcome the issue asks
 * for: permissions per hotel through CheckPermission and from the token (Login for a hotel,
 * ValidateToken), and a hotel admin managing her own hotel's staff through gRPC, and nothing
 * beyond it. Steps share state and run in order.
 */

const DOC = readFileSync(new URL('../docs/importing-organisations.md', import.meta.url), 'utf8');
const PASSWORD = 'hotel-legacy-password-1';

/** The body of the doc's `psql ... > <output> <<'SQL'` heredoc ('' output: the one without). */
function docSql(output: string): { sql: string; end: number } {
  const heredoc = /psql "\$LEGACY_URL"[^\n]*?(?:> (\S+) )?<<'SQL'\n([\s\S]*?)\nSQL\n/g;
  for (const m of DOC.matchAll(heredoc)) {
    if ((m[1] ?? '') === output) return { sql: m[2] ?? '', end: (m.index ?? 0) + m[0].length };
  }
  throw new Error(
    `docs/importing-organisations.md has no psql heredoc writing ${output || 'nothing'}`,
  );
}

/** The lines of the first ```text block after `from` in the doc. */
function docOutput(from: number): string[] {
  const rest = DOC.slice(from);
  const m = /```text\n([\s\S]*?)\n```/.exec(rest);
  if (!m) throw new Error('no ```text block after that step');
  return (m[1] ?? '').split('\n');
}

/** The ```text block that follows the doc's first line containing `marker`. */
function docOutputAfter(marker: string): string[] {
  const at = DOC.indexOf(marker);
  assert.ok(at >= 0, `the doc has ${marker}`);
  return docOutput(at);
}

/** jq's `{a, b}`: the keys in that order, a missing key as null. */
function pick(value: Record<string, unknown>, keys: string[]): string {
  return JSON.stringify(Object.fromEntries(keys.map((k) => [k, value[k] ?? null])));
}

/** What `psql -At` prints for the query: one line per row, its one column. */
async function psqlAt(db: TestDatabase, sql: string): Promise<string[]> {
  const rows = await db.query(sql);
  return rows.map((r) => {
    const v = Object.values(r)[0];
    return typeof v === 'string' ? v : JSON.stringify(v);
  });
}

describe('docs/importing-organisations.md: the hotel platform, imported and checked', () => {
  let gh: Gatehouse;
  let legacy: TestDatabase;
  let authz: AuthorizationServiceClient;
  let importKey: string;
  const orgIds: Record<string, string> = {};
  const userIds: Record<string, string> = {};

  /** `rpc [--emit-defaults] -H "authorization: Bearer $IMPORT_KEY" -d <json> $SERVICE/<Method>`. */
  const rpc = async (
    path: string,
    body: string,
    options: { emitDefaults?: boolean; bearer?: string | null } = {},
  ) => {
    const bearer = options.bearer === undefined ? importKey : options.bearer;
    const res = await bufCurl(`http://${gh.target}/gatehouse.${path}`, [
      ...(options.emitDefaults ? ['--emit-defaults'] : []),
      ...(bearer === null ? [] : ['-H', `authorization: Bearer ${bearer}`]),
      '-d',
      body,
    ]);
    assert.equal(res.code, 0, `${path}: ${res.stderr}`);
    return JSON.parse(res.stdout) as Record<string, unknown>;
  };
  const ORGS = 'admin.v1.OrganizationAdminService';

  before(async () => {
    gh = await startGatehouse();
    legacy = await createTestDatabase('hotel_platform');
    authz = new AuthorizationServiceClient(gh.target, credentials.createInsecure());
  });
  after(async () => {
    authz?.close();
    await legacy?.drop();
    await gh?.stop();
  });

  it('step 0: the platform tables, as the doc creates them', async () => {
    await legacy.pool.query(docSql('').sql);
    const [counts] = await legacy.query<{ roles: number; users: number; hotels: number }>(
      `SELECT (SELECT count(*)::int FROM roles) AS roles, (SELECT count(*)::int FROM users) AS users,
              (SELECT count(*)::int FROM hotels) AS hotels`,
    );
    assert.deepEqual(counts, { roles: 3, users: 6, hotels: 2 });
  });

  it('step 1: an import key from the admin CLI', async () => {
    const created = await runCli(
      'admin',
      ['service-account', 'create', '--name', 'org-importer', '--role', 'admin'],
      { DATABASE_URL: gh.db.url, NODE_ENV: 'production' },
    );
    assert.equal(created.code, 0, created.stderr);
    importKey = created.stdout.trim();
    assert.match(importKey, /^ghk_/);
  });

  it('step 2: permissions from the roles table', async () => {
    const { sql, end } = docSql('permissions.jsonl');
    const lines = await psqlAt(legacy, sql);
    for (const line of lines) await rpc(`${ORGS}/DefinePermission`, line);
    assert.deepEqual([String(lines.length)], docOutput(end));
    const catalog = await call(gh.organizations, 'listPermissions', {}, { token: importKey });
    const names = catalog.permissions.map((p) => p.name);
    for (const p of ['hotels:manage', 'bookings:read', 'bookings:write', 'staff:manage']) {
      assert.ok(names.includes(p), p);
    }
  });

  it('step 3: one global and two organisation roles', async () => {
    const { sql, end } = docSql('roles.jsonl');
    const printed: string[] = [];
    for (const line of await psqlAt(legacy, sql)) {
      const res = await rpc(`${ORGS}/CreateRole`, line);
      printed.push(pick(res.role as Record<string, unknown>, ['name', 'scope', 'permissions']));
    }
    assert.deepEqual(printed, docOutput(end));
  });

  it('step 4: users with their password hashes, system admins with the global role', async () => {
    const { sql, end } = docSql('users.json');
    const [batch] = await psqlAt(legacy, sql);
    const res = await rpc('admin.v1.UserAdminService/ImportUsers', batch ?? '', {
      emitDefaults: true,
    });
    assert.deepEqual([pick(res, ['importedCount', 'failedCount'])], docOutput(end));
    for (const r of res.results as { email: string; userId: string }[]) {
      userIds[r.email.split('@')[0] ?? ''] = r.userId;
    }
    const sofia = await call(
      gh.admin,
      'getUser',
      { userId: userIds.sofia ?? '' },
      { token: importKey },
    );
    assert.deepEqual(sofia.user?.user?.roles, ['system_admin']);
    const login = await call(gh.auth, 'login', {
      identifier: 'ana@hotels.example',
      password: PASSWORD,
    });
    assert.equal(login.user?.id, userIds.ana, 'the imported bcrypt hash signs Ana in');
  });

  it('step 5: hotels become organisations', async () => {
    const { sql } = docSql('hotels.json');
    const [batch] = await psqlAt(legacy, sql);
    const res = await rpc(`${ORGS}/ImportOrganizations`, batch ?? '', { emitDefaults: true });
    const results = res.results as { index: number; outcome: string; organizationId: string }[];
    assert.deepEqual(
      results.map((r) => [r.index, r.outcome]),
      [
        [0, 'IMPORT_OUTCOME_CREATED'],
        [1, 'IMPORT_OUTCOME_CREATED'],
      ],
    );
    for (const code of ['lis', 'opo']) {
      const [row] = await gh.db.query<{ id: string; attributes: Record<string, string> }>(
        `SELECT id, attributes FROM organizations WHERE slug = $1`,
        [code],
      );
      assert.ok(row, code);
      orgIds[code] = row.id;
    }
    assert.deepEqual(
      results.map((r) => r.organizationId),
      [orgIds.lis, orgIds.opo],
    );
    const [lis] = await gh.db.query<{ attributes: unknown; display_name: string }>(
      `SELECT attributes, display_name FROM organizations WHERE id = $1`,
      [orgIds.lis],
    );
    assert.deepEqual(lis, { attributes: { hotel_id: '1' }, display_name: 'Lisbon Riverside' });
  });

  it('step 6: who works where becomes memberships with organisation roles', async () => {
    const { sql, end } = docSql('memberships.json');
    const [batch] = await psqlAt(legacy, sql);
    const res = await rpc(`${ORGS}/ImportMemberships`, batch ?? '', { emitDefaults: true });
    const keys = ['createdCount', 'updatedCount', 'unchangedCount', 'failedCount'];
    assert.deepEqual([pick(res, keys)], docOutput(end));
  });

  it('step 7: running both imports again changes nothing', async () => {
    const keys = ['createdCount', 'updatedCount', 'unchangedCount', 'failedCount'];
    const [hotels] = await psqlAt(legacy, docSql('hotels.json').sql);
    const [memberships] = await psqlAt(legacy, docSql('memberships.json').sql);
    const before = await gh.db.query(`SELECT * FROM memberships ORDER BY id`);
    const printed = [
      pick(await rpc(`${ORGS}/ImportOrganizations`, hotels ?? '', { emitDefaults: true }), keys),
      pick(await rpc(`${ORGS}/ImportMemberships`, memberships ?? '', { emitDefaults: true }), keys),
    ];
    assert.deepEqual(printed, docOutputAfter('**7. Run it again.**'));
    assert.deepEqual(await gh.db.query(`SELECT * FROM memberships ORDER BY id`), before);
  });

  it("step 8: a hotel's people", async () => {
    const res = await rpc(
      'admin.v1.UserAdminService/ListUsers',
      JSON.stringify({ organizationId: orgIds.lis }),
    );
    const emails = (res.users as { user: { email: string } }[]).map((u) => u.user.email);
    assert.deepEqual([JSON.stringify(emails)], docOutputAfter('**8. Look at the result.**'));
  });

  it('CheckPermission: each hotel role in its hotel only, the system admin everywhere', async () => {
    // The two checks the doc prints, with its `check` function's buf curl call.
    const check = async (user: string, permission: string, org: string) =>
      pick(
        await rpc(
          'authz.v1.AuthorizationService/CheckPermission',
          JSON.stringify({ subject: { userId: userIds[user] }, permission, organizationId: org }),
          { emitDefaults: true },
        ),
        ['allowed', 'reason'],
      );
    assert.deepEqual(
      [
        await check('ana', 'staff:manage', orgIds.lis ?? ''),
        await check('ana', 'staff:manage', orgIds.opo ?? ''),
      ],
      docOutputAfter('check "$ANA_ID" staff:manage "$LIS"'),
    );

    // The whole matrix in one batch: [user, permission, hotel ('' for none), allowed].
    const everything = [
      'hotels:manage',
      'bookings:read',
      'bookings:write',
      'staff:manage',
      'reports:read',
      'org:manage',
    ];
    const expected: [string, string, string, boolean][] = [
      ['ana', 'staff:manage', 'lis', true],
      ['ana', 'org:manage', 'lis', true],
      ['ana', 'bookings:read', 'opo', false],
      ['ana', 'hotels:manage', 'lis', false],
      ['carla', 'staff:manage', 'opo', true],
      ['carla', 'staff:manage', 'lis', false],
      ['bruno', 'bookings:read', 'lis', true],
      ['bruno', 'bookings:write', 'lis', true],
      ['bruno', 'bookings:read', 'opo', false],
      ['bruno', 'staff:manage', 'lis', false],
      ['duarte', 'bookings:read', 'opo', true],
      ['duarte', 'bookings:read', 'lis', false],
      ['duarte', 'org:manage', 'opo', false],
      ['eva', 'bookings:read', 'lis', true],
      ['eva', 'bookings:read', 'opo', true],
      ['eva', 'staff:manage', 'opo', false],
      ['bruno', 'bookings:read', '', false],
      ...['lis', 'opo', ''].flatMap((hotel) =>
        everything.map((p): [string, string, string, boolean] => ['sofia', p, hotel, true]),
      ),
    ];
    const req: BatchCheckPermissionsRequest = {
      checks: expected.map(([user, permission, hotel]) => ({
        principal: {
          $case: 'subject',
          value: { id: { $case: 'userId', value: userIds[user] ?? '' } },
        },
        permission,
        organizationId: hotel === '' ? '' : (orgIds[hotel] ?? ''),
      })),
    };
    const res = await new Promise<BatchCheckPermissionsResponse>((resolve, reject) => {
      const md = new Metadata();
      md.set('authorization', `Bearer ${importKey}`);
      authz.batchCheckPermissions(
        req,
        md,
        (e: ServiceError | null, r: BatchCheckPermissionsResponse) => (e ? reject(e) : resolve(r)),
      );
    });
    assert.deepEqual(
      res.results.map((r, i) => [...(expected[i] ?? []).slice(0, 3), r.allowed]),
      expected,
    );
  });

  let anaToken = '';

  it('from the token: Ana signs in for Lisbon; ValidateToken answers her permissions there', async () => {
    const login = await rpc(
      'auth.v1.AuthService/Login',
      JSON.stringify({
        identifier: 'ana@hotels.example',
        password: PASSWORD,
        organizationId: orgIds.lis,
      }),
      { bearer: null },
    );
    anaToken = (login.tokens as { accessToken: string }).accessToken;
    const claims = JSON.parse(
      Buffer.from(anaToken.split('.')[1] ?? '', 'base64url').toString(),
    ) as Record<string, unknown>;
    assert.equal(claims.org_id, orgIds.lis);
    assert.deepEqual(claims.org_roles, ['hotel_admin']);
    const v = await rpc(
      'auth.v1.AuthService/ValidateToken',
      JSON.stringify({ accessToken: anaToken }),
      {
        bearer: null,
      },
    );
    const [printed] = docOutputAfter('$AUTH/ValidateToken');
    const shown = JSON.parse(printed ?? '{}') as Record<string, unknown>;
    // The page's id is an example; everything else is what the server answers.
    assert.deepEqual(
      { ...shown, organizationId: orgIds.lis },
      JSON.parse(pick(v, ['organizationId', 'organizationRoles', 'permissions'])),
    );
    // Porto is not hers: no session for it.
    await expectRpcError(
      call(
        gh.auth,
        'switchOrganization',
        { organizationId: orgIds.opo ?? '' },
        { token: anaToken },
      ),
      status.PERMISSION_DENIED,
      'NOT_A_MEMBER',
    );
  });

  it('a hotel admin manages her hotel only: invites, removes, never the last manager, never Porto', async () => {
    // The doc's commands: the staff role's id, an invitation, the member list.
    const roles = await rpc(
      `${ORGS}/ListRoles`,
      JSON.stringify({ scope: 'ROLE_SCOPE_ORGANIZATION' }),
    );
    const staffRole =
      (roles.roles as { id: string; name: string }[]).find((r) => r.name === 'hotel_staff')?.id ??
      '';
    const invited = await rpc(
      `${ORGS}/CreateInvitation`,
      JSON.stringify({
        organizationId: orgIds.lis,
        email: 'new.receptionist@hotels.example',
        roleIds: [staffRole],
      }),
      { bearer: anaToken },
    );
    assert.equal((invited.invitation as { status: string }).status, 'INVITATION_STATUS_OPEN');
    const members = await rpc(
      `${ORGS}/ListMembers`,
      JSON.stringify({ organizationId: orgIds.lis }),
      {
        bearer: anaToken,
      },
    );
    const inLisbon = (members.members as { userId: string }[]).map((m) => m.userId).sort();
    assert.deepEqual(inLisbon, [userIds.ana, userIds.bruno, userIds.eva].sort());

    // Porto is out of her reach, whatever she asks.
    const porto = { organizationId: orgIds.opo ?? '', pageSize: 0, pageToken: '' };
    await expectRpcError(
      call(gh.organizations, 'listMembers', porto, { token: anaToken }),
      status.PERMISSION_DENIED,
      'PERMISSION_REQUIRED',
    );
    await expectRpcError(
      call(
        gh.organizations,
        'addMember',
        {
          organizationId: orgIds.opo ?? '',
          userId: userIds.bruno ?? '',
          serviceAccountId: '',
          roleIds: [staffRole],
        },
        { token: anaToken },
      ),
      status.PERMISSION_DENIED,
      'PERMISSION_REQUIRED',
    );
    // Nor the platform's roles.
    await expectRpcError(
      call(
        gh.organizations,
        'updateRole',
        {
          role: Role.fromPartial({ id: staffRole, description: 'mine now' }),
          updateMask: ['description'],
        },
        { token: anaToken },
      ),
      status.PERMISSION_DENIED,
      'ADMIN_ROLE_REQUIRED',
    );
    // She cannot leave Lisbon without a manager.
    await expectRpcError(
      call(
        gh.organizations,
        'removeMember',
        { organizationId: orgIds.lis ?? '', userId: userIds.ana ?? '', serviceAccountId: '' },
        { token: anaToken },
      ),
      status.FAILED_PRECONDITION,
      'LAST_ORGANIZATION_MANAGER',
    );
    // Bruno leaves Lisbon: services asking see it at once.
    await call(
      gh.organizations,
      'removeMember',
      { organizationId: orgIds.lis ?? '', userId: userIds.bruno ?? '', serviceAccountId: '' },
      { token: anaToken },
    );
    const bruno = await rpc(
      'authz.v1.AuthorizationService/CheckPermission',
      JSON.stringify({
        subject: { userId: userIds.bruno },
        permission: 'bookings:read',
        organizationId: orgIds.lis,
      }),
      { emitDefaults: true },
    );
    assert.equal(bruno.allowed, false);
    // Lisbon's audit log shows what she did there, with her as the actor: her sign-in for
    // Lisbon included (the refusals about Porto are Porto's).
    const events = await rpc(
      'admin.v1.UserAdminService/ListAuditEvents',
      JSON.stringify({ organizationId: orgIds.lis }),
    );
    const actions = (events.events as { action: string; outcome: string; actorUserId?: string }[])
      .filter((e) => e.actorUserId === userIds.ana)
      .map((e) => `${e.action}:${e.outcome}`)
      .sort();
    assert.deepEqual(actions, [
      'invitation_create:AUDIT_OUTCOME_SUCCESS',
      'login:AUDIT_OUTCOME_SUCCESS',
      'member_list:AUDIT_OUTCOME_SUCCESS',
      'member_remove:AUDIT_OUTCOME_FAILURE',
      'member_remove:AUDIT_OUTCOME_SUCCESS',
    ]);
  });
});
