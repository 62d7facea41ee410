import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { JsonObject } from '@bufbuild/protobuf';
import { type Caller, connectCallers, type Outcome } from './helpers/connectCallers.ts';
import { type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { PASSWORD, uniqueEmail } from './helpers/users.ts';

// The same cases over the Connect protocol (binary, connect-node's client), gRPC-Web
// (connect-node's client) and plain JSON POST (fetch, as curl would): one contract, one
// middleware chain, whichever wire the call takes.

const AUTH = 'gatehouse.auth.v1.AuthService';
const ADMIN = 'gatehouse.admin.v1.UserAdminService';
const APP_ORIGIN = 'https://app.example.test';

function ok(outcome: Outcome): JsonObject {
  if (!outcome.ok) {
    assert.fail(`expected success, got ${outcome.code} ${outcome.reason}: ${outcome.message}`);
  }
  return outcome.message;
}
function failed(outcome: Outcome) {
  if (outcome.ok) assert.fail(`expected an error, got ${JSON.stringify(outcome.message)}`);
  return outcome;
}
const tokensOf = (message: JsonObject) => message.tokens as Record<string, string>;

describe('Connect, gRPC-Web and JSON: the same cases as gRPC', () => {
  let gh: Gatehouse;
  let baseUrl: string;
  before(async () => {
    gh = await startGatehouse({
      CONNECT_CORS_ORIGINS: APP_ORIGIN,
      // A small per-account budget: the fourth login attempt on one account is refused.
      RATE_LIMIT_ACCOUNT_POINTS: '3',
      RATE_LIMIT_ACCOUNT_WINDOW_SEC: '600',
      // Trusted, so each call names its source in x-forwarded-for and the audit row shows it.
      TRUSTED_PROXIES: '127.0.0.1',
    });
    baseUrl = `http://127.0.0.1:${gh.app.connectPort}`;
  });
  after(async () => {
    await gh.stop();
  });

  const protocols = ['connect', 'grpc-web', 'json'] as const;
  const caller = (protocol: (typeof protocols)[number]): Caller => {
    const found = connectCallers(baseUrl).find((c) => c.protocol === protocol);
    assert.ok(found);
    return found;
  };

  for (const protocol of protocols) {
    describe(protocol, () => {
      it('registers, logs in, refreshes (rotating) and validates', async () => {
        const c = caller(protocol);
        const email = uniqueEmail(protocol);
        const registered = ok(await c.call(AUTH, 'Register', { email, password: PASSWORD }));
        const userId = (registered.user as JsonObject).id as string;
        assert.match(userId, /^[0-9a-f-]{36}$/);

        const login = await c.call(AUTH, 'Login', { identifier: email, password: PASSWORD });
        const tokens = tokensOf(ok(login));
        assert.equal(tokens.tokenType, 'Bearer');
        assert.match(login.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);

        const refresh = (refreshToken: string | undefined) =>
          c.call(AUTH, 'Refresh', { refreshToken: refreshToken as string });
        const first = tokensOf(ok(await refresh(tokens.refreshToken)));
        assert.notEqual(first.refreshToken, tokens.refreshToken, 'rotated');
        const second = tokensOf(ok(await refresh(first.refreshToken)));
        const active = (accessToken: string | undefined) =>
          c.call(AUTH, 'ValidateToken', { accessToken: accessToken as string });
        assert.equal(ok(await active(second.accessToken)).active, true);
        // The successor was used: the original again is reuse, and ends the session.
        const reused = failed(await refresh(tokens.refreshToken));
        assert.equal(reused.code, 'unauthenticated');
        const validated = ok(await active(second.accessToken));
        // Proto JSON leaves a false bool out.
        assert.equal(
          validated.active ?? false,
          false,
          'reuse of a rotated refresh token ended the session',
        );

        const again = tokensOf(
          ok(await c.call(AUTH, 'Login', { identifier: email, password: PASSWORD })),
        );
        const valid = ok(
          await c.call(AUTH, 'ValidateToken', { accessToken: again.accessToken as string }),
        );
        assert.equal(valid.active, true);
        assert.equal(valid.userId, userId);
      });

      it('answers bad input with INVALID_ARGUMENT, ErrorInfo and BadRequest', async () => {
        const c = caller(protocol);
        const bad = failed(
          await c.call(AUTH, 'Register', { email: 'not-an-email', password: PASSWORD }),
        );
        assert.equal(bad.code, 'invalid_argument');
        assert.equal(bad.reason, 'VALIDATION_FAILED');
        assert.deepEqual(bad.fields, ['email']);
        if (protocol === 'json') assert.equal(bad.httpStatus, 400);
      });

      it('refuses the fourth login attempt on one account with RESOURCE_EXHAUSTED and RetryInfo', async () => {
        const c = caller(protocol);
        const email = uniqueEmail(`${protocol}-limited`);
        ok(await c.call(AUTH, 'Register', { email, password: PASSWORD }));
        for (let i = 0; i < 3; i++) {
          const wrong = failed(
            await c.call(AUTH, 'Login', { identifier: email, password: 'wrong-password-1' }),
          );
          assert.equal(wrong.reason, 'INVALID_CREDENTIALS', `attempt ${i + 1}`);
        }
        const limited = failed(
          await c.call(AUTH, 'Login', { identifier: email, password: PASSWORD }),
        );
        assert.equal(limited.code, 'resource_exhausted');
        assert.equal(limited.reason, 'RATE_LIMITED');
        assert.ok(
          limited.retryDelayMs !== undefined && limited.retryDelayMs > 0,
          `RetryInfo ${limited.retryDelayMs}`,
        );
        if (protocol === 'json') {
          assert.equal(limited.httpStatus, 429);
          assert.ok(Number(limited.headers.get('retry-after')) >= 1, 'retry-after for curl');
        }
      });

      it('serves admin RPCs through the same policy: no token, a user, an admin', async () => {
        const c = caller(protocol);
        const email = uniqueEmail(`${protocol}-admin`);
        const registered = ok(await c.call(AUTH, 'Register', { email, password: PASSWORD }));
        const userId = (registered.user as JsonObject).id as string;
        const userToken = tokensOf(registered).accessToken as string;

        const anonymous = failed(await c.call(ADMIN, 'GetUser', { userId }));
        assert.equal(anonymous.code, 'unauthenticated');
        const user = failed(await c.call(ADMIN, 'GetUser', { userId }, { token: userToken }));
        assert.equal(user.code, 'permission_denied');

        await gh.db.query(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [userId]);
        const adminToken = tokensOf(
          ok(await c.call(AUTH, 'Login', { identifier: email, password: PASSWORD })),
        ).accessToken as string;
        const got = ok(await c.call(ADMIN, 'GetUser', { userId }, { token: adminToken }));
        assert.equal(((got.user as JsonObject).user as JsonObject).email, email);

        // A FieldMask in proto JSON is one string of camelCase paths.
        const updated = ok(
          await c.call(
            ADMIN,
            'UpdateUser',
            { user: { id: userId, displayName: `Ada ${protocol}` }, updateMask: 'displayName' },
            { token: adminToken },
          ),
        );
        assert.equal(
          ((updated.user as JsonObject).user as JsonObject).displayName,
          `Ada ${protocol}`,
        );

        // A state change is audited with the call's request id and source, as over gRPC.
        const target = ok(
          await c.call(AUTH, 'Register', { email: uniqueEmail(protocol), password: PASSWORD }),
        );
        const targetId = (target.user as JsonObject).id as string;
        const requestId = `${protocol}-disable-1`;
        ok(
          await c.call(
            ADMIN,
            'DisableUser',
            { userId: targetId },
            {
              token: adminToken,
              headers: { 'x-request-id': requestId, 'x-forwarded-for': '203.0.113.7' },
            },
          ),
        );
        const rows = await gh.db.query(
          `SELECT actor_user_id, action, outcome, ip_address, request_id FROM audit_events
            WHERE subject_user_id = $1 AND request_id = $2`,
          [targetId, requestId],
        );
        assert.equal(rows.length, 1, JSON.stringify(rows));
        assert.equal(rows[0]?.actor_user_id, userId);
        assert.equal(rows[0]?.outcome, 'success');
        assert.equal(rows[0]?.ip_address, '203.0.113.7');
      });
    });
  }

  it('keeps a caller’s well-formed x-request-id', async () => {
    const res = await fetch(`${baseUrl}/${AUTH}/GetJwks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'trace-abc.123' },
      body: '{}',
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-request-id'), 'trace-abc.123');
    const { jwksJson } = (await res.json()) as { jwksJson: string };
    assert.ok(Array.isArray((JSON.parse(jwksJson) as { keys?: unknown }).keys));
  });

  it('counts its calls in the same RPC metrics', async () => {
    const scrape = async () => {
      const text = await (await fetch(`http://127.0.0.1:${gh.app.httpPort}/metrics`)).text();
      const line = text
        .split('\n')
        .find((l) => l.startsWith('gatehouse_rpc_total{method="GetJwks",code="0"}'));
      return Number(line?.split(' ')[1] ?? 0);
    };
    const before = await scrape();
    for (const c of connectCallers(baseUrl)) ok(await c.call(AUTH, 'GetJwks', {}));
    assert.equal(await scrape(), before + 3);
  });

  it('refuses unknown JSON fields and malformed JSON with INVALID_ARGUMENT', async () => {
    const post = (body: string) =>
      fetch(`${baseUrl}/${AUTH}/Login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
    const typo = await post('{"identifer":"ada@example.com","password":"x"}');
    assert.equal(typo.status, 400);
    const typoBody = (await typo.json()) as { code: string; message: string };
    assert.equal(typoBody.code, 'invalid_argument');
    assert.match(typoBody.message, /identifer/);
    const broken = await post('{"identifier":');
    assert.equal(broken.status, 400);
  });

  it('refuses request headers over GRPC_MAX_METADATA_BYTES before any handler (431)', async () => {
    const res = await fetch(`${baseUrl}/${AUTH}/GetJwks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-padding': 'x'.repeat(20_000) },
      body: '{}',
    });
    assert.equal(res.status, 431);
  });

  it('takes no request in the URL: GET of a method is refused', async () => {
    const message = encodeURIComponent(JSON.stringify({ identifier: 'a', password: 'b' }));
    const res = await fetch(`${baseUrl}/${AUTH}/Login?connect=v1&encoding=json&message=${message}`);
    assert.equal(res.status, 405);
  });

  it('CORS: closed to every origin but CONNECT_CORS_ORIGINS', async () => {
    const preflight = (origin: string) =>
      fetch(`${baseUrl}/${AUTH}/Login`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,authorization',
        },
      });
    const allowed = await preflight(APP_ORIGIN);
    assert.equal(allowed.status, 204);
    assert.equal(allowed.headers.get('access-control-allow-origin'), APP_ORIGIN);
    assert.match(allowed.headers.get('access-control-allow-methods') ?? '', /POST/);
    const allowedHeaders = (
      allowed.headers.get('access-control-allow-headers') ?? ''
    ).toLowerCase();
    for (const h of ['content-type', 'authorization', 'connect-protocol-version', 'x-grpc-web']) {
      assert.ok(allowedHeaders.includes(h), `${h} in ${allowedHeaders}`);
    }
    assert.match(allowed.headers.get('vary') ?? '', /Origin/);
    assert.equal(
      allowed.headers.get('access-control-allow-credentials'),
      null,
      'no cookies are read, so none are allowed',
    );

    const other = await preflight('https://evil.example');
    assert.equal(other.status, 403);
    assert.equal(other.headers.get('access-control-allow-origin'), null);

    // A page of another site gets no answer at all, even for a simple-looking call.
    const forged = await fetch(`${baseUrl}/${AUTH}/GetJwks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'https://evil.example' },
      body: '{}',
    });
    assert.equal(forged.status, 403);
    assert.equal(((await forged.json()) as { code: string }).code, 'permission_denied');

    const fromApp = await fetch(`${baseUrl}/${AUTH}/GetJwks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: APP_ORIGIN },
      body: '{}',
    });
    assert.equal(fromApp.status, 200);
    assert.equal(fromApp.headers.get('access-control-allow-origin'), APP_ORIGIN);
    assert.match(
      fromApp.headers.get('access-control-expose-headers') ?? '',
      /Grpc-Status-Details-Bin/i,
    );
  });
});
