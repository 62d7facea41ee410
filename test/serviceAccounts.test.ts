import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { credentials, status } from '@grpc/grpc-js';
import {
  ServiceAccount,
  ServiceAccountAdminServiceClient,
  ServiceAccountAdminServiceService,
  ServiceAccountStatus,
} from '../src/gen/gatehouse/admin/v1/service_account_admin_service.ts';
import { AuthServiceClient, PrincipalType } from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import { migrate } from '../src/storage/migrate.ts';
import { bufCurl } from './helpers/bufCurl.ts';
import { eventually } from './helpers/eventually.ts';
import { expectRpcError, rpcStatus } from './helpers/rpcError.ts';
import { runCli } from './helpers/runCli.ts';
import { spawnGatehouse } from './helpers/spawnGatehouse.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { createTestDatabase, redisUrl } from './helpers/testDatabase.ts';
import { registerUser } from './helpers/users.ts';

const KEY = /^ghk_[0-9A-Za-z]{49}$/;

/** A registered user given the admin role by SQL, as an operator could. */
async function adminToken(gh: Gatehouse): Promise<string> {
  const u = await registerUser(gh);
  await gh.db.query(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [u.user.id]);
  return u.tokens.accessToken;
}

type AnyRequest = Record<string, unknown>;

/**
 * A request for `method` built from the service definition alone: the default message, with
 * every id pointing at nothing (so no call can change real state).
 */
function probeRequest(method: { requestDeserialize: (b: Buffer) => unknown }): AnyRequest {
  const req = method.requestDeserialize(Buffer.alloc(0)) as AnyRequest;
  if ('serviceAccountId' in req) req.serviceAccountId = randomUUID();
  if ('apiKeyId' in req) req.apiKeyId = randomUUID();
  if ('serviceAccount' in req) {
    req.serviceAccount = ServiceAccount.fromPartial({ id: randomUUID(), displayName: 'probe' });
  }
  if ('updateMask' in req) req.updateMask = ['display_name'];
  return req;
}

interface AuditRow {
  action: string;
  outcome: string;
  actor_user_id: string | null;
  actor_service_account_id: string | null;
  api_key_id: string | null;
  subject_user_id: string | null;
  details: Record<string, unknown>;
}

const auditRows = (gh: Gatehouse, requestId: string) =>
  gh.db.query<AuditRow>(
    `SELECT action, outcome, actor_user_id, actor_service_account_id, api_key_id,
            subject_user_id, details
     FROM audit_events WHERE request_id = $1`,
    [requestId],
  );

/** A call with its own request id, and the audit rows that id has afterwards. */
async function audited<T>(
  gh: Gatehouse,
  run: (metadata: Record<string, string>) => Promise<T>,
): Promise<{ result: T | undefined; error: unknown; rows: AuditRow[] }> {
  const requestId = randomUUID();
  let result: T | undefined;
  let error: unknown;
  try {
    result = await run({ 'x-request-id': requestId });
  } catch (e) {
    error = e;
  }
  return { result, error, rows: await auditRows(gh, requestId) };
}

describe('ServiceAccountAdminService', () => {
  let gh: Gatehouse;
  let token: string;
  before(async () => {
    gh = await startGatehouse();
    token = await adminToken(gh);
  });
  after(async () => {
    await gh.stop();
  });

  const create = (name: string, roles: string[] = [], extra: AnyRequest = {}) =>
    call(
      gh.serviceAccounts,
      'createServiceAccount',
      { name, displayName: '', description: '', roles, ...extra },
      { token },
    );
  const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
  /** A new service account holding `roles`, and a key of it asking for all of them. */
  const accountWithKey = async (name: string, roles: string[]) => {
    const id = (await create(name, roles)).serviceAccount?.id ?? '';
    const key = await call(
      gh.serviceAccounts,
      'createServiceAccountKey',
      { serviceAccountId: id, displayName: '', roles: [] },
      { token },
    );
    return { id, keyId: key.apiKey?.id ?? '', secret: key.secret };
  };
  /** What ValidateToken answers for a key secret now. */
  const validate = (secret: string) => call(gh.auth, 'validateToken', { accessToken: secret });

  it('guards EVERY method, before any lookup, and audits every call once', async () => {
    const member = await registerUser(gh);
    const machine = await accountWithKey(unique('matrix-reader'), ['read']);
    const adminMachine = await accountWithKey(unique('matrix-admin'), ['admin']);
    const revoked = await accountWithKey(unique('matrix-revoked'), ['admin']);
    await call(
      gh.serviceAccounts,
      'revokeServiceAccountKey',
      { serviceAccountId: revoked.id, apiKeyId: revoked.keyId },
      { token },
    );
    const methods = Object.entries(ServiceAccountAdminServiceService);
    assert.equal(methods.length, 11, 'the service definition lists the eleven RPCs');
    const nobody = { user: null, serviceAccount: null, apiKey: null };
    const callers = [
      { who: 'no token', token: undefined, expect: 'unauthenticated', actor: nobody },
      { who: 'bad token', token: 'not.a.jwt', expect: 'unauthenticated', actor: nobody },
      { who: 'bad key', token: `ghk_${'A'.repeat(49)}`, expect: 'unauthenticated', actor: nobody },
      { who: 'revoked key', token: revoked.secret, expect: 'unauthenticated', actor: nobody },
      {
        who: 'non-admin',
        token: member.tokens.accessToken,
        expect: 'denied',
        actor: { ...nobody, user: member.user.id },
      },
      {
        who: 'non-admin key',
        token: machine.secret,
        expect: 'denied',
        actor: { ...nobody, serviceAccount: machine.id, apiKey: machine.keyId },
      },
      { who: 'admin', token, expect: 'admin', actor: null },
      {
        who: 'admin key',
        token: adminMachine.secret,
        expect: 'admin',
        actor: { user: null, serviceAccount: adminMachine.id, apiKey: adminMachine.keyId },
      },
    ] as const;
    for (const [name, method] of methods) {
      for (const caller of callers) {
        const req = probeRequest(method);
        const { error, rows } = await audited(gh, (metadata) =>
          call(gh.serviceAccounts, name as never, req as never, {
            ...(caller.token === undefined ? {} : { token: caller.token }),
            metadata,
          }),
        );
        let outcome = 'failure';
        if (error === undefined) {
          // Only a list has nothing to look up: an admin's call of it succeeds.
          assert.equal(`${caller.expect} ${name}`, 'admin listServiceAccounts', caller.who);
          outcome = 'success';
        } else {
          const s = rpcStatus(error);
          if (caller.expect === 'unauthenticated') {
            assert.equal(status[s.grpcCode], 'UNAUTHENTICATED', `${name} by ${caller.who}`);
            assert.equal(s.errorInfo?.reason, 'INVALID_ACCESS_TOKEN');
          } else if (caller.expect === 'denied') {
            // Before validation and lookup: an unknown id is PERMISSION_DENIED, not NOT_FOUND.
            assert.equal(status[s.grpcCode], 'PERMISSION_DENIED', `${name} by ${caller.who}`);
            assert.equal(s.errorInfo?.reason, 'ADMIN_ROLE_REQUIRED');
            outcome = 'denied';
          } else {
            assert.ok(
              ['NOT_FOUND', 'INVALID_ARGUMENT'].includes(status[s.grpcCode] ?? ''),
              `${name} by ${caller.who} answered ${status[s.grpcCode]} ${s.errorInfo?.reason}`,
            );
          }
        }
        // Besides the call's event, a refused known key may add the key's own sampled
        // api_key_denied event (at most one a minute per key; written by the key path).
        const own = rows.filter((r) => r.action !== 'api_key_denied');
        assert.equal(own.length, 1, `${name} by ${caller.who}: exactly one audit event`);
        if (caller.who !== 'revoked key') assert.equal(rows.length, 1, caller.who);
        const [row] = own;
        assert.equal(row?.outcome, outcome, `${name} by ${caller.who}`);
        assert.match(row?.action ?? '', /^(service_account_[a-z_]+|api_keys_import)$/);
        if (caller.actor !== null) {
          assert.deepEqual(
            {
              user: row?.actor_user_id,
              serviceAccount: row?.actor_service_account_id,
              apiKey: row?.api_key_id,
            },
            caller.actor,
            `${name} by ${caller.who}: actor`,
          );
        }
        assert.equal(row?.subject_user_id, null, 'a service account is not a subject user');
        const subject =
          (req.serviceAccountId as string | undefined) ??
          (req.serviceAccount as { id?: string } | undefined)?.id;
        if (subject !== undefined) assert.equal(row?.details.service_account_id, subject, name);
      }
    }
  });

  it('creates, reads, lists, updates, disables, enables and deletes service accounts', async () => {
    const name = unique('billing-exporter');
    const { result, rows } = await audited(gh, (metadata) =>
      call(
        gh.serviceAccounts,
        'createServiceAccount',
        {
          name,
          displayName: 'Billing exporter',
          description: 'Nightly export\nowned by billing',
          roles: ['support', 'billing', 'support'],
        },
        { token, metadata },
      ),
    );
    const created = result?.serviceAccount;
    assert.ok(created);
    assert.equal(created.name, name);
    assert.deepEqual(created.roles, ['billing', 'support'], 'sorted, no duplicates');
    assert.equal(created.status, ServiceAccountStatus.SERVICE_ACCOUNT_STATUS_ACTIVE);
    assert.equal(created.description, 'Nightly export\nowned by billing');
    assert.equal(rows[0]?.action, 'service_account_create');
    assert.equal(rows[0]?.outcome, 'success');
    assert.equal(rows[0]?.details.service_account_id, created.id, 'the created account');

    await expectRpcError(create(name), status.ALREADY_EXISTS, 'SERVICE_ACCOUNT_NAME_TAKEN');
    const bad = await expectRpcError(
      create('-Bad Name', ['Admin'], { description: 'bell\u0007', displayName: 'x'.repeat(101) }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.deepEqual((bad.fieldViolations ?? []).map((v) => v.field).sort(), [
      'description',
      'display_name',
      'name',
      'roles[0]',
    ]);

    const got = await call(
      gh.serviceAccounts,
      'getServiceAccount',
      { serviceAccountId: created.id.toUpperCase() },
      { token },
    );
    assert.deepEqual(got.serviceAccount, created);
    await expectRpcError(
      call(gh.serviceAccounts, 'getServiceAccount', { serviceAccountId: 'nope' }, { token }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );

    const { result: updated, rows: updateRows } = await audited(gh, (metadata) =>
      call(
        gh.serviceAccounts,
        'updateServiceAccount',
        {
          serviceAccount: { ...created, displayName: 'Exporter', roles: ['billing'], name: 'x' },
          updateMask: ['display_name', 'roles'],
        },
        { token, metadata },
      ),
    );
    assert.equal(updated?.serviceAccount?.displayName, 'Exporter');
    assert.deepEqual(updated?.serviceAccount?.roles, ['billing']);
    assert.equal(updated?.serviceAccount?.name, name, 'the name is not updatable');
    assert.equal(updated?.serviceAccount?.description, created.description, 'not in the mask');
    assert.deepEqual(updateRows[0]?.details, {
      service_account_id: created.id,
      fields: 'display_name,roles',
      previous_roles: 'billing,support',
      roles: 'billing',
    });

    const disabled = await call(
      gh.serviceAccounts,
      'disableServiceAccount',
      { serviceAccountId: created.id },
      { token },
    );
    assert.equal(
      disabled.serviceAccount?.status,
      ServiceAccountStatus.SERVICE_ACCOUNT_STATUS_DISABLED,
    );
    const again = await call(
      gh.serviceAccounts,
      'disableServiceAccount',
      { serviceAccountId: created.id },
      { token },
    );
    assert.equal(again.serviceAccount?.status, disabled.serviceAccount?.status, 'idempotent');
    const enabled = await call(
      gh.serviceAccounts,
      'enableServiceAccount',
      { serviceAccountId: created.id },
      { token },
    );
    assert.equal(
      enabled.serviceAccount?.status,
      ServiceAccountStatus.SERVICE_ACCOUNT_STATUS_ACTIVE,
    );

    const key = await call(
      gh.serviceAccounts,
      'createServiceAccountKey',
      { serviceAccountId: created.id, displayName: '', roles: [] },
      { token },
    );
    const { result: deleted, rows: deleteRows } = await audited(gh, (metadata) =>
      call(
        gh.serviceAccounts,
        'deleteServiceAccount',
        { serviceAccountId: created.id },
        { token, metadata },
      ),
    );
    assert.equal(deleted?.revokedKeyCount, 1);
    assert.equal(deleteRows[0]?.details.revoked_keys, 1);
    assert.equal(deleteRows[0]?.details.previous_status, 'active');
    const [keyRow] = await gh.db.query<{ revoked_at: Date | null }>(
      'SELECT revoked_at FROM api_keys WHERE id = $1',
      [key.apiKey?.id],
    );
    assert.ok(keyRow?.revoked_at, 'deleting revokes the keys');
    for (const method of [
      'getServiceAccount',
      'deleteServiceAccount',
      'enableServiceAccount',
      'listServiceAccountKeys',
    ] as const) {
      await expectRpcError(
        call(
          gh.serviceAccounts,
          method,
          { serviceAccountId: created.id, pageSize: 0, pageToken: '' } as never,
          { token },
        ),
        status.NOT_FOUND,
        'SERVICE_ACCOUNT_NOT_FOUND',
      );
    }
    const reused = await create(name);
    assert.notEqual(reused.serviceAccount?.id, created.id, 'the name is free again');
    const listedDeleted = await call(
      gh.serviceAccounts,
      'listServiceAccounts',
      {
        pageSize: 500,
        pageToken: '',
        status: ServiceAccountStatus.SERVICE_ACCOUNT_STATUS_DELETED,
      },
      { token },
    );
    assert.ok(listedDeleted.serviceAccounts.some((a) => a.id === created.id));
    const listedLive = await call(
      gh.serviceAccounts,
      'listServiceAccounts',
      { pageSize: 500, pageToken: '', status: 0 },
      { token },
    );
    assert.ok(!listedLive.serviceAccounts.some((a) => a.id === created.id), 'deleted: hidden');
    assert.ok(listedLive.serviceAccounts.some((a) => a.id === reused.serviceAccount?.id));
  });

  it('role changes, disable, enable, revoke and delete reach the keys within 1 s', async () => {
    const account = await accountWithKey(unique('propagation'), ['deploy', 'read']);
    const second = await call(
      gh.serviceAccounts,
      'createServiceAccountKey',
      { serviceAccountId: account.id, displayName: 'second', roles: ['read'] },
      { token },
    );
    const live = await validate(account.secret);
    assert.equal(live.active, true);
    assert.equal(live.principalType, PrincipalType.PRINCIPAL_TYPE_SERVICE_ACCOUNT);
    assert.equal(live.serviceAccountId, account.id);
    assert.equal(live.apiKeyId, account.keyId);
    assert.equal(live.userId, '');
    assert.deepEqual(live.roles, ['deploy', 'read']);
    // The bound of each wait is the requirement: the change is visible within one second.
    const within1s = <T>(probe: () => Promise<T>, done: (v: T) => boolean, what: string) =>
      eventually(probe, done, { timeoutMs: 1000, intervalMs: 10, what });
    const state = async () => [await validate(account.secret), await validate(second.secret)];

    await call(
      gh.serviceAccounts,
      'updateServiceAccount',
      {
        serviceAccount: ServiceAccount.fromPartial({ id: account.id, roles: ['read'] }),
        updateMask: ['roles'],
      },
      { token },
    );
    await within1s(
      () => validate(account.secret),
      (v) => v.active && v.roles.join(',') === 'read',
      'a role taken from the account taken from its key',
    );
    await call(
      gh.serviceAccounts,
      'disableServiceAccount',
      { serviceAccountId: account.id },
      { token },
    );
    await within1s(state, (vs) => vs.every((v) => !v.active), 'keys of a disabled account dead');
    await call(
      gh.serviceAccounts,
      'enableServiceAccount',
      { serviceAccountId: account.id },
      { token },
    );
    await within1s(state, (vs) => vs.every((v) => v.active), 'keys live again once enabled');
    await call(
      gh.serviceAccounts,
      'revokeServiceAccountKey',
      { serviceAccountId: account.id, apiKeyId: account.keyId },
      { token },
    );
    await within1s(
      state,
      ([first, other]) => first?.active === false && other?.active === true,
      'the revoked key dead, the other one live',
    );
    await call(
      gh.serviceAccounts,
      'deleteServiceAccount',
      { serviceAccountId: account.id },
      { token },
    );
    await within1s(state, (vs) => vs.every((v) => !v.active), 'keys of a deleted account dead');
    const [dead] = await state();
    assert.deepEqual(
      { ...dead },
      { ...(await call(gh.auth, 'validateToken', { accessToken: `ghk_${'B'.repeat(49)}` })) },
      'a dead key answers like an unknown one',
    );
  });

  it('a service account holding admin manages service accounts with its key, until demoted', async () => {
    const robot = await accountWithKey(unique('automation'), ['admin']);
    const { result, rows } = await audited(gh, (metadata) =>
      call(
        gh.serviceAccounts,
        'createServiceAccount',
        { name: unique('made-by-robot'), displayName: '', description: '', roles: [] },
        { token: robot.secret, metadata },
      ),
    );
    assert.ok(result?.serviceAccount);
    assert.equal(rows[0]?.actor_service_account_id, robot.id);
    assert.equal(rows[0]?.api_key_id, robot.keyId);
    assert.equal(rows[0]?.actor_user_id, null);
    await call(
      gh.serviceAccounts,
      'updateServiceAccount',
      {
        serviceAccount: ServiceAccount.fromPartial({ id: robot.id, roles: [] }),
        updateMask: ['roles'],
      },
      { token },
    );
    // requireRole reads the account's roles in PostgreSQL: the very next call is refused.
    await expectRpcError(
      call(
        gh.serviceAccounts,
        'getServiceAccount',
        { serviceAccountId: result.serviceAccount.id },
        { token: robot.secret },
      ),
      status.PERMISSION_DENIED,
      'ADMIN_ROLE_REQUIRED',
    );
  });

  it('refuses bad update masks with the same hints as UpdateUser', async () => {
    const account = (await create(unique('mask'))).serviceAccount;
    assert.ok(account);
    const update = (updateMask: string[]) =>
      call(
        gh.serviceAccounts,
        'updateServiceAccount',
        { serviceAccount: { ...account, displayName: 'new' }, updateMask },
        { token },
      );
    const missing = await expectRpcError(update([]), status.INVALID_ARGUMENT, 'VALIDATION_FAILED');
    assert.equal(missing.fieldViolations?.[0]?.field, 'update_mask');
    assert.match(missing.message, /display_name, description, roles/);
    assert.match(missing.message, /camelCase/);
    const camel = await expectRpcError(
      update(['displayName']),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.match(camel.message, /did you mean display_name\?/);
    const readOnly = await expectRpcError(
      update(['name', 'status']),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.equal(readOnly.fieldViolations?.length, 2);
    assert.match(readOnly.message, /unknown or read-only path "name"/);
    const badRoles = await expectRpcError(
      call(
        gh.serviceAccounts,
        'updateServiceAccount',
        { serviceAccount: { ...account, roles: ['Ops'] }, updateMask: ['roles'] },
        { token },
      ),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.equal(badRoles.fieldViolations?.[0]?.field, 'service_account.roles[0]');
    const [row] = await gh.db.query<{ display_name: string }>(
      'SELECT display_name FROM service_accounts WHERE id = $1',
      [account.id],
    );
    assert.equal(row?.display_name, '', 'nothing was written');
  });

  it('pages through service accounts by keyset, with signed tokens bound to the filter', async () => {
    const disabledStatus = ServiceAccountStatus.SERVICE_ACCOUNT_STATUS_DISABLED;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = (await create(unique(`page-${i}`))).serviceAccount?.id ?? '';
      await call(gh.serviceAccounts, 'disableServiceAccount', { serviceAccountId: id }, { token });
      ids.push(id);
    }
    const seen: string[] = [];
    let pageToken = '';
    do {
      const page = await call(
        gh.serviceAccounts,
        'listServiceAccounts',
        { pageSize: 2, pageToken, status: disabledStatus },
        { token },
      );
      assert.ok(page.serviceAccounts.length <= 2);
      seen.push(...page.serviceAccounts.map((a) => a.id));
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    assert.deepEqual(
      seen.filter((id) => ids.includes(id)),
      ids,
      'every disabled account once, in creation order',
    );
    const first = await call(
      gh.serviceAccounts,
      'listServiceAccounts',
      { pageSize: 1, pageToken: '', status: disabledStatus },
      { token },
    );
    await expectRpcError(
      call(
        gh.serviceAccounts,
        'listServiceAccounts',
        { pageSize: 1, pageToken: first.nextPageToken, status: 0 },
        { token },
      ),
      status.INVALID_ARGUMENT,
      'INVALID_PAGE_TOKEN',
    );
    await expectRpcError(
      call(
        gh.serviceAccounts,
        'listServiceAccounts',
        { pageSize: -1, pageToken: '', status: 0 },
        { token },
      ),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
  });

  it('creates keys shown once, lists them by prefix only, and revokes them', async () => {
    const account = (await create(unique('deployer'), ['deploy', 'read'])).serviceAccount;
    const other = (await create(unique('other'), ['read'])).serviceAccount;
    assert.ok(account && other);
    const serviceAccountId = account.id;
    const { result: created, rows } = await audited(gh, (metadata) =>
      call(
        gh.serviceAccounts,
        'createServiceAccountKey',
        { serviceAccountId, displayName: 'pipeline', roles: [] },
        { token, metadata },
      ),
    );
    assert.ok(created?.apiKey);
    const secret = created.secret;
    assert.match(secret, KEY);
    const key = created.apiKey;
    assert.equal(key.displayPrefix, secret.slice(0, 8));
    assert.equal(key.serviceAccountId, serviceAccountId);
    assert.equal(key.userId, '');
    assert.deepEqual(key.roles, ['deploy', 'read'], 'no roles asked: all of the account’s');
    assert.equal(key.expireTime, undefined);
    assert.equal(rows[0]?.details.key_id, key.id);
    const [stored] = await gh.db.query<{ secret_hash: Buffer }>(
      'SELECT secret_hash FROM api_key_secrets WHERE api_key_id = $1',
      [key.id],
    );
    assert.deepEqual(stored?.secret_hash, createHash('sha256').update(secret).digest());

    const expireTime = new Date(Date.now() + 86_400_000);
    const narrow = await call(
      gh.serviceAccounts,
      'createServiceAccountKey',
      { serviceAccountId, displayName: 'read only', roles: ['read'], expireTime },
      { token },
    );
    assert.deepEqual(narrow.apiKey?.roles, ['read']);
    assert.equal(narrow.apiKey?.expireTime?.getTime(), expireTime.getTime());
    const notHeld = await expectRpcError(
      call(
        gh.serviceAccounts,
        'createServiceAccountKey',
        { serviceAccountId, displayName: '', roles: ['admin'] },
        { token },
      ),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.equal(notHeld.fieldViolations?.[0]?.field, 'roles');
    const badFields = await expectRpcError(
      call(
        gh.serviceAccounts,
        'createServiceAccountKey',
        {
          serviceAccountId,
          displayName: 'x'.repeat(101),
          roles: ['Bad'],
          expireTime: new Date(Date.now() - 1000),
        },
        { token },
      ),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.deepEqual((badFields.fieldViolations ?? []).map((v) => v.field).sort(), [
      'display_name',
      'expire_time',
      'roles[0]',
    ]);

    const listed = await call(
      gh.serviceAccounts,
      'listServiceAccountKeys',
      { serviceAccountId, pageSize: 1, pageToken: '' },
      { token },
    );
    assert.deepEqual(
      listed.apiKeys.map((k) => k.id),
      [key.id],
    );
    const rest = await call(
      gh.serviceAccounts,
      'listServiceAccountKeys',
      { serviceAccountId, pageSize: 1, pageToken: listed.nextPageToken },
      { token },
    );
    assert.deepEqual(
      rest.apiKeys.map((k) => k.id),
      [narrow.apiKey?.id],
    );
    assert.equal(rest.nextPageToken, '');
    await expectRpcError(
      call(
        gh.serviceAccounts,
        'listServiceAccountKeys',
        { serviceAccountId: other.id, pageSize: 1, pageToken: listed.nextPageToken },
        { token },
      ),
      status.INVALID_ARGUMENT,
      'INVALID_PAGE_TOKEN',
    );
    assert.equal(listed.apiKeys[0]?.displayPrefix, key.displayPrefix);
    const shown = JSON.stringify([listed, rest]);
    assert.ok(!shown.includes(secret), 'the secret is not listed');
    assert.ok(!shown.includes(secret.slice(0, 12)), 'not even more of it than the prefix');

    await expectRpcError(
      call(
        gh.serviceAccounts,
        'revokeServiceAccountKey',
        { serviceAccountId: other.id, apiKeyId: key.id },
        { token },
      ),
      status.NOT_FOUND,
      'API_KEY_NOT_FOUND',
    );
    const revokeBad = await expectRpcError(
      call(
        gh.serviceAccounts,
        'revokeServiceAccountKey',
        { serviceAccountId: 'x', apiKeyId: '' },
        { token },
      ),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.deepEqual((revokeBad.fieldViolations ?? []).map((v) => v.field).sort(), [
      'api_key_id',
      'service_account_id',
    ]);
    const { result: revoked, rows: revokeRows } = await audited(gh, (metadata) =>
      call(
        gh.serviceAccounts,
        'revokeServiceAccountKey',
        { serviceAccountId, apiKeyId: key.id },
        { token, metadata },
      ),
    );
    assert.ok(revoked?.apiKey?.revokeTime);
    assert.equal(revokeRows[0]?.details.key_id, key.id);
    assert.equal(revokeRows[0]?.details.service_account_id, serviceAccountId);
    const twice = await call(
      gh.serviceAccounts,
      'revokeServiceAccountKey',
      { serviceAccountId, apiKeyId: key.id },
      { token },
    );
    assert.equal(
      twice.apiKey?.revokeTime?.getTime(),
      revoked.apiKey.revokeTime.getTime(),
      'idempotent: the first revocation time stays',
    );
    await expectRpcError(
      call(
        gh.serviceAccounts,
        'revokeServiceAccountKey',
        { serviceAccountId, apiKeyId: randomUUID() },
        { token },
      ),
      status.NOT_FOUND,
      'API_KEY_NOT_FOUND',
    );

    const audit = JSON.stringify(await gh.db.query('SELECT * FROM audit_events'));
    assert.ok(!audit.includes(secret), 'no secret in any audit row');
    assert.ok(!audit.includes(stored?.secret_hash.toString('hex') ?? '-'), 'nor its hash');
  });

  it('is listed by server reflection and callable with buf curl', async () => {
    const services = await bufCurl(`http://${gh.target}`, ['--list-services']);
    assert.equal(services.code, 0, services.stderr);
    assert.match(services.stdout, /^gatehouse\.admin\.v1\.ServiceAccountAdminService$/m);
    const got = await bufCurl(
      `http://${gh.target}/gatehouse.admin.v1.ServiceAccountAdminService/GetServiceAccount`,
      [
        '-H',
        `authorization: Bearer ${token}`,
        '-d',
        JSON.stringify({ serviceAccountId: randomUUID() }),
      ],
    );
    assert.equal(got.code, 5 * 8, `NOT_FOUND: ${got.stderr}`);
    assert.match(got.stderr, /"code": "not_found"[\s\S]*no such service account/);
  });
});

/** Runs the admin CLI with only `env`. */
const adminCli = (args: string[], env: Record<string, string>) => runCli('admin', args, env);

describe('admin CLI: service-account create', () => {
  it('creates an account and one key with only DATABASE_URL, printing the secret once', async () => {
    const db = await createTestDatabase();
    await migrate(db.url);
    const production = { NODE_ENV: 'production', DATABASE_URL: db.url };
    const gh = await spawnGatehouse({
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: `ghtest:sa-cli:${randomUUID().slice(0, 8)}:`,
      LOG_LEVEL: 'debug',
    });
    const auth = new AuthServiceClient(`127.0.0.1:${gh.grpcPort}`, credentials.createInsecure());
    const client = new ServiceAccountAdminServiceClient(
      `127.0.0.1:${gh.grpcPort}`,
      credentials.createInsecure(),
    );
    try {
      const run = await adminCli(
        [
          'service-account',
          'create',
          '--name',
          'ci-deployer',
          '--role',
          'deploy',
          '--role',
          'read',
        ],
        production,
      );
      assert.equal(run.code, 0, run.stderr);
      const secret = run.stdout.trim();
      assert.match(secret, KEY, 'stdout is the secret alone');
      assert.match(run.stderr, /created service account ci-deployer \(id [0-9a-f-]{36}\)/);
      assert.match(run.stderr, /roles: deploy, read/);
      assert.match(run.stderr, /shown only this once; store it/);
      assert.ok(!run.stderr.includes(secret), 'the secret goes to stdout only');

      const [account] = await db.query<{ id: string; roles: string[]; status: string }>(
        `SELECT id, roles, status FROM service_accounts WHERE name = 'ci-deployer'`,
      );
      assert.deepEqual(account?.roles, ['deploy', 'read']);
      assert.equal(account?.status, 'active');
      const keys = await db.query<{ id: string; roles: string[]; secret_hash: Buffer }>(
        `SELECT k.id, k.roles, s.secret_hash FROM api_keys k
         JOIN api_key_secrets s ON s.api_key_id = k.id
         WHERE k.owner_service_account_id = $1 AND k.revoked_at IS NULL`,
        [account?.id],
      );
      assert.equal(keys.length, 1);
      assert.deepEqual(keys[0]?.roles, ['deploy', 'read']);
      assert.deepEqual(keys[0]?.secret_hash, createHash('sha256').update(secret).digest());
      const audit = await db.query<AuditRow>(
        `SELECT action, outcome, actor_user_id, actor_service_account_id, api_key_id,
                subject_user_id, details
         FROM audit_events WHERE action = 'service_account_create'`,
      );
      assert.equal(audit.length, 1);
      assert.equal(audit[0]?.details.source, 'cli');
      assert.equal(audit[0]?.details.key_id, keys[0]?.id);
      assert.equal(audit[0]?.details.service_account_id, account?.id);
      assert.ok(!JSON.stringify(audit).includes(secret));

      // The running server serves the account; its listing shows the prefix only.
      const admin = await adminCli(['create', '--email', 'ops@example.test'], production);
      assert.equal(admin.code, 0, admin.stderr);
      const password = /^password: (\S+)$/m.exec(admin.stdout)?.[1] ?? '';
      const login = await call(auth, 'login', { identifier: 'ops@example.test', password });
      const listed = await call(
        client,
        'listServiceAccountKeys',
        { serviceAccountId: account?.id ?? '', pageSize: 0, pageToken: '' },
        { token: login.tokens?.accessToken ?? '' },
      );
      assert.equal(listed.apiKeys[0]?.displayPrefix, secret.slice(0, 8));
      // The key works: the running server validates it as the new service account.
      const validated = await call(auth, 'validateToken', { accessToken: secret });
      assert.equal(validated.active, true);
      assert.equal(validated.principalType, PrincipalType.PRINCIPAL_TYPE_SERVICE_ACCOUNT);
      assert.equal(validated.serviceAccountId, account?.id);
      assert.deepEqual(validated.roles, ['deploy', 'read']);
      assert.ok(!JSON.stringify(listed).includes(secret));
      assert.ok(!JSON.stringify(gh.logs).includes(secret), 'no secret in the server log');

      const duplicate = await adminCli(
        ['service-account', 'create', '--name', 'ci-deployer'],
        production,
      );
      assert.equal(duplicate.code, 65, duplicate.stderr);
      assert.match(duplicate.stderr, /already exists/);
      assert.equal(duplicate.stdout, '', 'no secret for a refused account');
      const usage = await adminCli(['service-account', 'create'], production);
      assert.equal(usage.code, 64, usage.stderr);
    } finally {
      client.close();
      auth.close();
      gh.process.kill('SIGTERM');
      await gh.exited;
      await db.drop();
    }
  });
});
