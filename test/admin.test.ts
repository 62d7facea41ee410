import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import {
  AuditAction,
  AuditOutcome,
  UserAdminServiceService,
} from '../src/gen/gatehouse/admin/v1/user_admin_service.ts';
import { User, UserStatus } from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import { expectRpcError, rpcStatus } from './helpers/rpcError.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { PASSWORD, registerUser, uniqueEmail } from './helpers/users.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A registered user made admin the way an operator would without the CLI: SQL on roles. */
async function makeAdmin(gh: Gatehouse) {
  const u = await registerUser(gh);
  await gh.db.query(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [u.user.id]);
  return u;
}

type AnyRequest = Record<string, unknown>;

/**
 * A request for `method` built from the service definition alone: the default message, with
 * any user id pointing at a user that does not exist (so no call can change real state).
 */
function probeRequest(method: { requestDeserialize: (b: Buffer) => unknown }): AnyRequest {
  const req = method.requestDeserialize(Buffer.alloc(0)) as AnyRequest;
  if ('userId' in req) req.userId = randomUUID();
  if ('user' in req) req.user = User.fromPartial({ id: randomUUID(), displayName: 'probe' });
  if ('updateMask' in req) req.updateMask = ['display_name'];
  return req;
}

describe('UserAdminService authorization and audit', () => {
  let gh: Gatehouse;
  before(async () => {
    gh = await startGatehouse();
  });
  after(async () => {
    await gh.stop();
  });

  it('guards EVERY method of the service definition, and audits every call once', async () => {
    const admin = await makeAdmin(gh);
    const member = await registerUser(gh);
    const methods = Object.entries(UserAdminServiceService);
    assert.ok(methods.length >= 12, 'the service definition lists the admin RPCs');
    const callers = [
      { who: 'no token', token: undefined, actor: null },
      { who: 'bad token', token: 'not.a.jwt', actor: null },
      { who: 'non-admin', token: member.tokens.accessToken, actor: member.user.id },
      { who: 'admin', token: admin.tokens.accessToken, actor: admin.user.id },
    ];
    for (const [name, method] of methods) {
      for (const caller of callers) {
        const requestId = randomUUID();
        const req = probeRequest(method);
        const pending = call(gh.admin, name as never, req as never, {
          ...(caller.token === undefined ? {} : { token: caller.token }),
          metadata: { 'x-request-id': requestId },
        });
        let expectedOutcome: string;
        if (caller.who === 'no token' || caller.who === 'bad token') {
          await expectRpcError(pending, status.UNAUTHENTICATED, 'INVALID_ACCESS_TOKEN');
          expectedOutcome = 'failure';
        } else if (caller.who === 'non-admin') {
          // Before validation and lookup: never INVALID_ARGUMENT or NOT_FOUND for non-admins.
          await expectRpcError(pending, status.PERMISSION_DENIED, 'ADMIN_ROLE_REQUIRED');
          expectedOutcome = 'denied';
        } else {
          try {
            await pending;
            expectedOutcome = 'success';
          } catch (error) {
            const s = rpcStatus(error);
            assert.ok(
              ![status.UNAUTHENTICATED, status.PERMISSION_DENIED, status.UNIMPLEMENTED].includes(
                s.grpcCode,
              ),
              `${name} as admin answered ${status[s.grpcCode]} ${s.errorInfo?.reason}`,
            );
            expectedOutcome = 'failure';
          }
        }
        const rows = await gh.db.query<{
          action: string;
          outcome: string;
          actor_user_id: string | null;
          subject_user_id: string | null;
          details: Record<string, unknown>;
        }>(
          `SELECT action, outcome, actor_user_id, subject_user_id, details
           FROM audit_events WHERE request_id = $1`,
          [requestId],
        );
        assert.equal(rows.length, 1, `${name} by ${caller.who}: exactly one audit event`);
        const [row] = rows;
        assert.equal(row?.outcome, expectedOutcome, `${name} by ${caller.who}`);
        assert.equal(row?.actor_user_id, caller.actor, `${name} by ${caller.who}: actor`);
        if (typeof req.userId === 'string') assert.equal(row?.subject_user_id, req.userId);
        assert.match(row?.action ?? '', /^[a-z_]+$/);
      }
    }
  });

  it('creates users with or without a password and never exposes hashes', async () => {
    const admin = await makeAdmin(gh);
    const token = admin.tokens.accessToken;
    const email = uniqueEmail('Created');
    const created = await call(
      gh.admin,
      'createUser',
      {
        email,
        username: 'created_one',
        displayName: 'Created One',
        roles: ['support', 'billing', 'support'],
        initialPassword: PASSWORD,
        emailVerified: true,
      },
      { token },
    );
    const u = created.user;
    assert.ok(u?.user);
    assert.equal(u.user.email, email);
    assert.deepEqual(u.user.roles, ['billing', 'support'], 'sorted, no duplicates');
    assert.equal(u.user.emailVerified, true);
    assert.equal(u.hasPassword, true);
    assert.equal(u.passwordAlgorithm, 'argon2id');
    assert.ok(!JSON.stringify(created).includes('$argon2'), 'no hash in the response');
    await call(gh.auth, 'login', { identifier: email, password: PASSWORD });

    const noPassword = await call(
      gh.admin,
      'createUser',
      { email: uniqueEmail(), roles: [], emailVerified: false },
      { token },
    );
    assert.equal(noPassword.user?.hasPassword, false);
    assert.equal(noPassword.user?.passwordAlgorithm, '');
    await expectRpcError(
      call(gh.auth, 'login', {
        identifier: noPassword.user?.user?.email ?? '',
        password: PASSWORD,
      }),
      status.UNAUTHENTICATED,
      'INVALID_CREDENTIALS',
    );

    await expectRpcError(
      call(gh.admin, 'createUser', { email, roles: [], emailVerified: false }, { token }),
      status.ALREADY_EXISTS,
      'EMAIL_TAKEN',
    );
    const bad = await expectRpcError(
      call(
        gh.admin,
        'createUser',
        {
          email: 'not-an-email',
          roles: ['Admin'],
          initialPassword: 'password',
          emailVerified: false,
        },
        { token },
      ),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    const fields = (bad.fieldViolations ?? []).map((v) => v.field).sort();
    assert.deepEqual(fields, ['email', 'initial_password', 'roles[0]']);

    const got = await call(gh.admin, 'getUser', { userId: u.user.id }, { token });
    assert.equal(got.user?.user?.displayName, 'Created One');
    await expectRpcError(
      call(gh.admin, 'getUser', { userId: 'nope' }, { token }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    await expectRpcError(
      call(gh.admin, 'getUser', { userId: randomUUID() }, { token }),
      status.NOT_FOUND,
      'USER_NOT_FOUND',
    );
  });

  it('updates the fields named by the mask and refuses unknown paths', async () => {
    const admin = await makeAdmin(gh);
    const token = admin.tokens.accessToken;
    const target = await registerUser(gh, { username: 'mask_target' });
    await gh.db.query('UPDATE users SET email_verified = true WHERE id = $1', [target.user.id]);
    const base = User.fromPartial({ ...target.user });

    const bad = await expectRpcError(
      call(
        gh.admin,
        'updateUser',
        { user: base, updateMask: ['display_name', 'password_hash'] },
        { token },
      ),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.deepEqual(
      (bad.fieldViolations ?? []).map((v) => v.field),
      ['update_mask'],
    );
    await expectRpcError(
      call(gh.admin, 'updateUser', { user: base, updateMask: [] }, { token }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );

    const newEmail = uniqueEmail('moved');
    const res = await call(
      gh.admin,
      'updateUser',
      {
        user: {
          ...base,
          displayName: 'Renamed',
          email: newEmail,
          username: undefined,
          roles: ['x'],
        },
        updateMask: ['display_name', 'email', 'username'],
      },
      { token },
    );
    const updated = res.user?.user;
    assert.equal(updated?.displayName, 'Renamed');
    assert.equal(updated?.email, newEmail);
    assert.equal(updated?.username, undefined, 'an unset username in the mask clears it');
    assert.equal(updated?.emailVerified, false, 'a new email address is unverified');
    assert.deepEqual(updated?.roles, [], 'roles were not in the mask');

    const verified = await call(
      gh.admin,
      'updateUser',
      {
        user: { ...base, email: uniqueEmail('again'), emailVerified: true },
        updateMask: ['email', 'email_verified'],
      },
      { token },
    );
    assert.equal(verified.user?.user?.emailVerified, true, 'the mask value wins');

    const other = await registerUser(gh);
    await expectRpcError(
      call(
        gh.admin,
        'updateUser',
        { user: { ...base, email: other.email }, updateMask: ['email'] },
        { token },
      ),
      status.ALREADY_EXISTS,
      'EMAIL_TAKEN',
    );
    await expectRpcError(
      call(
        gh.admin,
        'updateUser',
        { user: { ...base, id: randomUUID() }, updateMask: ['display_name'] },
        { token },
      ),
      status.NOT_FOUND,
      'USER_NOT_FOUND',
    );
  });

  it('takes a demoted admin off the admin API and ValidateToken at once', async () => {
    const a = await makeAdmin(gh);
    const b = await makeAdmin(gh);
    await call(gh.admin, 'getUser', { userId: a.user.id }, { token: b.tokens.accessToken });
    const v = await call(gh.auth, 'validateToken', { accessToken: b.tokens.accessToken });
    assert.deepEqual(v.roles, ['admin'], 'cached as an admin session');

    await call(
      gh.admin,
      'updateUser',
      { user: User.fromPartial({ id: b.user.id, roles: [] }), updateMask: ['roles'] },
      { token: a.tokens.accessToken },
    );
    await expectRpcError(
      call(gh.admin, 'getUser', { userId: a.user.id }, { token: b.tokens.accessToken }),
      status.PERMISSION_DENIED,
      'ADMIN_ROLE_REQUIRED',
    );
    // The instance that made the change dropped its cached state before answering.
    const { roles } = await call(gh.auth, 'validateToken', { accessToken: b.tokens.accessToken });
    assert.deepEqual(roles, [], 'ValidateToken reports the current roles at once');
  });

  it('never removes the last active admin (demote, disable, delete), even when racing', async () => {
    await gh.db.query(`UPDATE users SET roles = '{}' WHERE 'admin' = ANY(roles)`);
    const only = await makeAdmin(gh);
    const token = only.tokens.accessToken;
    const id = only.user.id;
    await expectRpcError(
      call(
        gh.admin,
        'updateUser',
        { user: User.fromPartial({ id, roles: ['support'] }), updateMask: ['roles'] },
        { token },
      ),
      status.FAILED_PRECONDITION,
      'LAST_ACTIVE_ADMIN',
    );
    await expectRpcError(
      call(gh.admin, 'disableUser', { userId: id }, { token }),
      status.FAILED_PRECONDITION,
      'LAST_ACTIVE_ADMIN',
    );
    await expectRpcError(
      call(gh.admin, 'deleteUser', { userId: id }, { token }),
      status.FAILED_PRECONDITION,
      'LAST_ACTIVE_ADMIN',
    );
    // A disabled admin does not count as an active one.
    const dormant = await makeAdmin(gh);
    await gh.db.query(`UPDATE users SET status = 'disabled' WHERE id = $1`, [dormant.user.id]);
    await expectRpcError(
      call(gh.admin, 'disableUser', { userId: id }, { token }),
      status.FAILED_PRECONDITION,
      'LAST_ACTIVE_ADMIN',
    );

    for (let round = 0; round < 5; round++) {
      await gh.db.query(`UPDATE users SET roles = '{}' WHERE 'admin' = ANY(roles)`);
      const a = await makeAdmin(gh);
      const b = await makeAdmin(gh);
      const results = await Promise.allSettled([
        call(gh.admin, 'disableUser', { userId: b.user.id }, { token: a.tokens.accessToken }),
        call(gh.admin, 'deleteUser', { userId: a.user.id }, { token: b.tokens.accessToken }),
        call(
          gh.admin,
          'updateUser',
          { user: User.fromPartial({ id: a.user.id, roles: [] }), updateMask: ['roles'] },
          { token: a.tokens.accessToken },
        ),
      ]);
      const [{ count }] = (await gh.db.query<{ count: number }>(
        `SELECT count(*)::int AS count FROM users WHERE status = 'active' AND 'admin' = ANY(roles)`,
      )) as [{ count: number }];
      assert.equal(count, 1, `round ${round}: exactly one active admin is left`);
      assert.ok(results.some((r) => r.status === 'fulfilled'));
      for (const r of results) {
        if (r.status === 'rejected') {
          const s = rpcStatus(r.reason);
          assert.ok(
            [
              'LAST_ACTIVE_ADMIN',
              'ADMIN_ROLE_REQUIRED',
              'INVALID_ACCESS_TOKEN',
              'USER_NOT_FOUND',
            ].includes(s.errorInfo?.reason ?? ''),
            `unexpected ${s.errorInfo?.reason}`,
          );
        }
      }
    }
  });

  it('disables (sessions end at once, login fails like a wrong password) and enables', async () => {
    const admin = await makeAdmin(gh);
    const token = admin.tokens.accessToken;
    const target = await registerUser(gh);
    assert.equal(
      (await call(gh.auth, 'validateToken', { accessToken: target.tokens.accessToken })).active,
      true,
    );
    const disabled = await call(gh.admin, 'disableUser', { userId: target.user.id }, { token });
    assert.equal(disabled.user?.user?.status, UserStatus.USER_STATUS_DISABLED);
    assert.equal(
      (await call(gh.auth, 'validateToken', { accessToken: target.tokens.accessToken })).active,
      false,
    );
    await expectRpcError(
      call(gh.auth, 'refresh', { refreshToken: target.tokens.refreshToken }),
      status.UNAUTHENTICATED,
      'INVALID_REFRESH_TOKEN',
    );
    const refused = await expectRpcError(
      call(gh.auth, 'login', { identifier: target.email, password: PASSWORD }),
      status.UNAUTHENTICATED,
      'INVALID_CREDENTIALS',
    );
    const wrong = await expectRpcError(
      call(gh.auth, 'login', { identifier: target.email, password: 'wrong-password-123' }),
      status.UNAUTHENTICATED,
      'INVALID_CREDENTIALS',
    );
    assert.equal(refused.message, wrong.message);
    assert.deepEqual(refused.raw, wrong.raw, 'byte-identical error details');

    await call(gh.admin, 'disableUser', { userId: target.user.id }, { token });
    const enabled = await call(gh.admin, 'enableUser', { userId: target.user.id }, { token });
    assert.equal(enabled.user?.user?.status, UserStatus.USER_STATUS_ACTIVE);
    await call(gh.admin, 'enableUser', { userId: target.user.id }, { token });
    await gh.db.query(
      'UPDATE users SET failed_login_count = 0, locked_until = NULL WHERE id = $1',
      [target.user.id],
    );
    await call(gh.auth, 'login', { identifier: target.email, password: PASSWORD });
  });

  it('unlocks a locked account and shows its lockout state', async () => {
    const admin = await makeAdmin(gh);
    const token = admin.tokens.accessToken;
    const target = await registerUser(gh);
    await gh.db.query(
      `UPDATE users SET failed_login_count = 7, lockout_count = 2,
              locked_until = now() + interval '1 hour' WHERE id = $1`,
      [target.user.id],
    );
    const before = await call(gh.admin, 'getUser', { userId: target.user.id }, { token });
    assert.equal(before.user?.failedLoginCount, 7);
    assert.equal(before.user?.lockoutCount, 2);
    assert.ok(before.user?.lockedUntil instanceof Date);
    const after = await call(gh.admin, 'unlockUser', { userId: target.user.id }, { token });
    assert.equal(after.user?.failedLoginCount, 0);
    assert.equal(after.user?.lockoutCount, 0);
    assert.equal(after.user?.lockedUntil, undefined);
    await call(gh.auth, 'login', { identifier: target.email, password: PASSWORD });
  });

  it('deletes softly: NOT_FOUND afterwards, sessions end, the email is free again', async () => {
    const admin = await makeAdmin(gh);
    const token = admin.tokens.accessToken;
    const target = await registerUser(gh, { username: 'to_be_deleted' });
    await call(gh.admin, 'deleteUser', { userId: target.user.id }, { token });
    assert.equal(
      (await call(gh.auth, 'validateToken', { accessToken: target.tokens.accessToken })).active,
      false,
    );
    for (const method of ['getUser', 'deleteUser', 'disableUser', 'listUserSessions'] as const) {
      await expectRpcError(
        call(gh.admin, method, { userId: target.user.id, pageSize: 0, pageToken: '' }, { token }),
        status.NOT_FOUND,
        'USER_NOT_FOUND',
      );
    }
    const [row] = await gh.db.query<{ status: string; deleted_at: Date | null }>(
      'SELECT status, deleted_at FROM users WHERE id = $1',
      [target.user.id],
    );
    assert.equal(row?.status, 'deleted');
    assert.ok(row?.deleted_at instanceof Date, 'soft delete keeps the row for the audit trail');

    const again = await registerUser(gh, { email: target.email, username: 'to_be_deleted' });
    assert.notEqual(again.user.id, target.user.id);
    const listed = await call(
      gh.admin,
      'listUsers',
      { pageSize: 10, pageToken: '', query: target.email, role: '', status: 0 },
      { token },
    );
    assert.deepEqual(
      listed.users.map((u) => u.user?.id),
      [again.user.id],
    );
    const deleted = await call(
      gh.admin,
      'listUsers',
      {
        pageSize: 10,
        pageToken: '',
        query: target.email,
        role: '',
        status: UserStatus.USER_STATUS_DELETED,
      },
      { token },
    );
    assert.deepEqual(
      deleted.users.map((u) => u.user?.id),
      [target.user.id],
    );
  });

  it("lists and revokes a user's sessions", async () => {
    const admin = await makeAdmin(gh);
    const token = admin.tokens.accessToken;
    const target = await registerUser(gh);
    const second = await call(gh.auth, 'login', { identifier: target.email, password: PASSWORD });
    await sleep(5);
    await call(gh.auth, 'refresh', { refreshToken: target.tokens.refreshToken });
    const list = await call(
      gh.admin,
      'listUserSessions',
      { userId: target.user.id, pageSize: 0, pageToken: '' },
      { token },
    );
    assert.equal(list.sessions.length, 2);
    assert.equal(list.sessions[0]?.id, target.tokens.sessionId, 'most recently used first');
    assert.ok(list.sessions.every((s) => !s.current));
    const own = await call(
      gh.admin,
      'listUserSessions',
      { userId: admin.user.id, pageSize: 0, pageToken: '' },
      { token },
    );
    assert.deepEqual(
      own.sessions.map((s) => s.current),
      [true],
    );

    const revoked = await call(
      gh.admin,
      'revokeUserSessions',
      { userId: target.user.id },
      { token },
    );
    assert.equal(revoked.revokedCount, 2);
    assert.equal(
      (await call(gh.auth, 'validateToken', { accessToken: second.tokens?.accessToken ?? '' }))
        .active,
      false,
    );
    const none = await call(
      gh.admin,
      'listUserSessions',
      { userId: target.user.id, pageSize: 0, pageToken: '' },
      { token },
    );
    assert.equal(none.sessions.length, 0);
  });

  it("pages a user's sessions with tokens bound to that user", async () => {
    const admin = await makeAdmin(gh);
    const token = admin.tokens.accessToken;
    const target = await registerUser(gh);
    const other = await registerUser(gh);
    await gh.db.query(
      `INSERT INTO sessions (id, user_id, last_used_at, idle_expires_at, expires_at)
       SELECT gen_random_uuid(), $1, now() - i * interval '1 second', now() + interval '1 day',
              now() + interval '2 days'
       FROM generate_series(1, 1100) AS i`,
      [target.user.id],
    );
    const listPage = (userId: string, pageToken: string, pageSize = 400) =>
      call(gh.admin, 'listUserSessions', { userId, pageSize, pageToken }, { token });
    const ids: string[] = [];
    let pageToken = '';
    do {
      const page = await listPage(target.user.id, pageToken);
      ids.push(...page.sessions.map((s) => s.id));
      pageToken = page.nextPageToken;
    } while (pageToken !== '' && ids.length < 5000);
    assert.equal(ids.length, 1101, 'nothing cut at 1000');
    assert.equal(new Set(ids).size, 1101, 'no duplicates');
    assert.equal(ids[0], target.tokens.sessionId, 'most recently used first');

    const first = await listPage(target.user.id, '');
    await expectRpcError(
      listPage(other.user.id, first.nextPageToken),
      status.INVALID_ARGUMENT,
      'INVALID_PAGE_TOKEN',
    );
    const own = await call(
      gh.auth,
      'listSessions',
      { pageSize: 400, pageToken: '' },
      { token: other.tokens.accessToken },
    );
    await expectRpcError(
      call(
        gh.auth,
        'listSessions',
        { pageSize: 400, pageToken: first.nextPageToken },
        { token: other.tokens.accessToken },
      ),
      status.INVALID_ARGUMENT,
      'INVALID_PAGE_TOKEN',
    );
    assert.equal(own.sessions.length, 1);
    const bad = await expectRpcError(
      listPage(target.user.id, '', -5),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.deepEqual(
      bad.fieldViolations?.map((v) => v.field),
      ['page_size'],
    );
  });

  it('lists audit events newest first with filters and signed page tokens', async () => {
    const admin = await makeAdmin(gh);
    const token = admin.tokens.accessToken;
    const subject = await registerUser(gh);
    const t0 = new Date(Date.now() - 1000);
    for (let i = 0; i < 5; i++) {
      await call(gh.admin, 'unlockUser', { userId: subject.user.id }, { token });
    }
    const events = [];
    let pageToken = '';
    do {
      const page = await call(
        gh.admin,
        'listAuditEvents',
        { pageSize: 2, pageToken, userId: subject.user.id, action: 'user_unlock', since: t0 },
        { token },
      );
      events.push(...page.events);
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    assert.equal(events.length, 5);
    const ids = events.map((e) => Number(e.id));
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => b - a),
      'newest first',
    );
    for (const e of events) {
      assert.equal(e.action, 'user_unlock');
      assert.equal(e.actionCode, AuditAction.AUDIT_ACTION_USER_UNLOCK);
      assert.equal(e.outcome, AuditOutcome.AUDIT_OUTCOME_SUCCESS);
      assert.equal(e.actorUserId, admin.user.id);
      assert.equal(e.subjectUserId, subject.user.id);
      assert.equal(e.ipAddress, '127.0.0.1');
      assert.ok(JSON.parse(e.detailsJson));
    }
    // The subject's own events (register) are there too when filtering by user only.
    const all = await call(
      gh.admin,
      'listAuditEvents',
      { pageSize: 100, pageToken: '', userId: subject.user.id, action: '' },
      { token },
    );
    assert.ok(all.events.some((e) => e.action === 'register'));
    const none = await call(
      gh.admin,
      'listAuditEvents',
      { pageSize: 10, pageToken: '', userId: subject.user.id, action: '', until: t0 },
      { token },
    );
    assert.equal(none.events.length, 0, 'until is exclusive and before everything');

    const first = await call(
      gh.admin,
      'listAuditEvents',
      { pageSize: 1, pageToken: '', userId: subject.user.id, action: 'user_unlock' },
      { token },
    );
    await expectRpcError(
      call(
        gh.admin,
        'listAuditEvents',
        { pageSize: 1, pageToken: first.nextPageToken, userId: '', action: 'user_unlock' },
        { token },
      ),
      status.INVALID_ARGUMENT,
      'INVALID_PAGE_TOKEN',
    );
    await expectRpcError(
      call(
        gh.admin,
        'listAuditEvents',
        { pageSize: 1, pageToken: '', userId: '', action: '', since: new Date(), until: t0 },
        { token },
      ),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
  });

  it("speaks the contract's action vocabulary, old rows included", async () => {
    const admin = await makeAdmin(gh);
    const token = admin.tokens.accessToken;
    const subject = await registerUser(gh);
    const bad = await expectRpcError(
      call(
        gh.admin,
        'listAuditEvents',
        { pageSize: 10, pageToken: '', userId: '', action: 'refresh_token_reuse' },
        { token },
      ),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.deepEqual(
      bad.fieldViolations?.map((v) => v.field),
      ['action'],
    );
    // A row as v0.1 wrote it: listed under the contract's name.
    await gh.db.query(
      `INSERT INTO audit_events (subject_user_id, action, outcome) VALUES ($1, 'refresh_token_reuse', 'success')`,
      [subject.user.id],
    );
    const listed = await call(
      gh.admin,
      'listAuditEvents',
      { pageSize: 10, pageToken: '', userId: subject.user.id, action: 'refresh_reuse_detected' },
      { token },
    );
    assert.deepEqual(
      listed.events.map((e) => [e.action, e.actionCode]),
      [['refresh_reuse_detected', AuditAction.AUDIT_ACTION_REFRESH_REUSE_DETECTED]],
    );
    // Every action recorded by the whole run so far is one the contract names.
    const actions = await gh.db.query<{ action: string }>(
      `SELECT DISTINCT action FROM audit_events WHERE action <> 'refresh_token_reuse'`,
    );
    const names = Object.keys(AuditAction).map((k) => k.replace('AUDIT_ACTION_', '').toLowerCase());
    for (const { action } of actions) assert.ok(names.includes(action), action);
  });
});
