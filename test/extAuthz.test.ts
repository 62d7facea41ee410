import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { importJWK, type JWK, SignJWT } from 'jose';
import { bufCurl } from './helpers/bufCurl.ts';
import {
  type CheckResponse,
  checkRequest,
  envoyAuthorizationClient,
  envoyCheck,
  upstreamChanges,
} from './helpers/envoyAuthorization.ts';
import { eventually } from './helpers/eventually.ts';
import { type OrgFixtures, orgFixtures, uniqueName } from './helpers/organizations.ts';
import { expectRpcError } from './helpers/rpcError.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { registerUser } from './helpers/users.ts';

/** The denied HTTP response of `res`: status, headers by name, parsed JSON body. */
function denial(res: CheckResponse) {
  const d = res.denied_response;
  if (res.http_response !== 'denied_response' || d === undefined) {
    throw new Error(`not a denied response: ${JSON.stringify(res)}`);
  }
  return {
    grpcCode: res.status?.code,
    httpStatus: d.status.code,
    headers: Object.fromEntries(d.headers.map((h) => [h.header.key, h.header.value])),
    body: JSON.parse(d.body) as { error: string; message: string },
  };
}

describe('Envoy ext_authz (envoy.service.auth.v3.Authorization/Check)', () => {
  let gh: Gatehouse;
  /** A second instance on the same database, with other EXT_AUTHZ_* settings. */
  let gh2: Gatehouse;
  let envoy: Client;
  let envoy2: Client;
  let fx: OrgFixtures;
  let adminToken: string;
  /** The gateway: a service account whose global role grants gateway:check. */
  let gatewayKey: string;
  let gatewayRole: string;

  const sql = (text: string, params: unknown[] = []) => gh.db.query(text, params);
  const check = (http: Parameters<typeof checkRequest>[0], client = envoy) =>
    envoyCheck(client, checkRequest(http), gatewayKey);
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  /** A new service account with `roles` and one key asking for them; its id and secret. */
  const serviceAccount = async (roles: string[]) => {
    const sa = await call(
      gh.serviceAccounts,
      'createServiceAccount',
      { name: uniqueName('sa'), displayName: '', description: '', roles },
      { token: adminToken },
    );
    const id = sa.serviceAccount?.id ?? '';
    const key = await call(
      gh.serviceAccounts,
      'createServiceAccountKey',
      { serviceAccountId: id, displayName: '', roles },
      { token: adminToken },
    );
    return { id, keyId: key.apiKey?.id ?? '', secret: key.secret };
  };

  before(async () => {
    gh = await startGatehouse();
    gh2 = await startGatehouse(
      {
        EXT_AUTHZ_USER_ID_HEADER: 'x-user-id',
        EXT_AUTHZ_REMOVE_CREDENTIAL: 'true',
        EXT_AUTHZ_CREDENTIAL_HEADERS: 'authorization',
        RATE_LIMIT_IP_CREDENTIAL_POINTS: '3',
        MFA_REQUIRED_ROLES: 'night-manager',
      },
      gh.db,
    );
    envoy = envoyAuthorizationClient(gh.target);
    envoy2 = envoyAuthorizationClient(gh2.target);
    fx = orgFixtures(gh.db);
    const admin = await registerUser(gh);
    await sql(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [admin.user.id]);
    adminToken = (
      await call(gh.auth, 'login', { identifier: admin.email, password: admin.password })
    ).tokens?.accessToken as string;
    gatewayRole = uniqueName('gateway');
    await fx.role(gatewayRole, 'global', ['gateway:check']);
    gatewayKey = (await serviceAccount([gatewayRole])).secret;
  });
  after(async () => {
    envoy.close();
    envoy2.close();
    await gh2.stop();
    await gh.stop();
  });

  it('seeds the permission gateway:check (migration 0016)', async () => {
    const rows = await sql(`SELECT description FROM permissions WHERE name = 'gateway:check'`);
    assert.equal(rows.length, 1);
    assert.match(String((rows[0] as { description: string }).description), /ext_authz/);
  });

  it('is answered only to a service account holding gateway:check, before the request is read', async () => {
    const u = await registerUser(gh);
    const req = checkRequest({ headers: bearer(u.tokens.accessToken) });
    // A route configuration Check would refuse (INVALID_ARGUMENT) from an admitted gateway.
    const bad = checkRequest({ contextExtensions: { gatehouse_permission: 'Not A Permission' } });

    await expectRpcError(envoyCheck(envoy, req), status.UNAUTHENTICATED, 'INVALID_ACCESS_TOKEN');
    await expectRpcError(
      envoyCheck(envoy, req, 'ghk_not-a-real-key'),
      status.UNAUTHENTICATED,
      'INVALID_ACCESS_TOKEN',
    );
    // A user's session is not a gateway, even one whose roles grant gateway:check.
    await sql(`UPDATE users SET roles = $1 WHERE id = $2`, [[gatewayRole], u.user.id]);
    const session = (await call(gh.auth, 'login', { identifier: u.email, password: u.password }))
      .tokens?.accessToken as string;
    await expectRpcError(
      envoyCheck(envoy, req, session),
      status.UNAUTHENTICATED,
      'INVALID_ACCESS_TOKEN',
    );
    const plain = await serviceAccount([]);
    await expectRpcError(
      envoyCheck(envoy, req, plain.secret),
      status.PERMISSION_DENIED,
      'PERMISSION_REQUIRED',
    );
    await expectRpcError(
      envoyCheck(envoy, bad, plain.secret),
      status.PERMISSION_DENIED,
      'PERMISSION_REQUIRED',
    );

    const ok = await envoyCheck(envoy, req, gatewayKey);
    assert.equal(ok.status?.code, status.OK);
    const s = await expectRpcError(
      envoyCheck(envoy, bad, gatewayKey),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.deepEqual(
      s.fieldViolations?.map((v) => v.field),
      ['attributes.context_extensions[gatehouse_permission]'],
    );
  });

  it("lets a valid access token through with the user's identity, overwriting forged headers", async () => {
    await fx.role('front-desk', 'global', []);
    const u = await registerUser(gh);
    await sql(`UPDATE users SET roles = '{front-desk}' WHERE id = $1`, [u.user.id]);
    const token = (await call(gh.auth, 'login', { identifier: u.email, password: u.password }))
      .tokens;
    const res = await check({
      headers: {
        ...bearer(token?.accessToken ?? ''),
        'x-gatehouse-user-id': randomUUID(),
        'x-gatehouse-roles': 'admin',
        'x-gatehouse-service-account-id': randomUUID(),
        'x-gatehouse-impersonate': 'yes',
        'x-request-id': 'kept',
      },
    });
    assert.equal(res.status?.code, status.OK);
    const { set, appendActions, removed } = upstreamChanges(res);
    assert.deepEqual(set, {
      'x-gatehouse-user-id': u.user.id,
      'x-gatehouse-session-id': token?.sessionId,
      'x-gatehouse-roles': 'front-desk',
      'x-gatehouse-principal-type': 'user_session',
    });
    assert.deepEqual(appendActions, ['OVERWRITE_IF_EXISTS_OR_ADD']);
    // Identity headers this credential has no value for, and anything else with the prefix.
    assert.deepEqual(removed, [
      'x-gatehouse-api-key-id',
      'x-gatehouse-impersonate',
      'x-gatehouse-organization-id',
      'x-gatehouse-service-account-id',
    ]);
    assert.ok(!removed.includes('authorization'), 'the credential stays unless configured');
  });

  it("lets a user's API key (x-api-key) and a service account's key (Bearer) through", async () => {
    const u = await registerUser(gh);
    const userKey = await call(
      gh.apiKeys,
      'createApiKey',
      { displayName: '', roles: [] },
      { token: u.tokens.accessToken },
    );
    // Also as Envoy sends headers with encode_raw_headers (header_map with raw values).
    for (const rawHeaders of [false, true]) {
      const byUserKey = upstreamChanges(
        await check({ headers: { 'x-api-key': userKey.secret }, rawHeaders }),
      );
      assert.deepEqual(byUserKey.set, {
        'x-gatehouse-user-id': u.user.id,
        'x-gatehouse-api-key-id': userKey.apiKey?.id,
        'x-gatehouse-principal-type': 'user_api_key',
      });
    }

    await fx.role('reporting', 'global', []);
    const sa = await serviceAccount(['reporting']);
    const bySaKey = upstreamChanges(await check({ headers: bearer(sa.secret) }));
    assert.deepEqual(bySaKey.set, {
      'x-gatehouse-service-account-id': sa.id,
      'x-gatehouse-api-key-id': sa.keyId,
      'x-gatehouse-roles': 'reporting',
      'x-gatehouse-principal-type': 'service_account',
    });
    assert.ok(bySaKey.removed.includes('x-gatehouse-user-id'));
  });

  it('denies a missing, malformed, garbage or expired credential with 401, JSON and WWW-Authenticate', async () => {
    const missing = denial(await check({}));
    assert.deepEqual(
      [missing.grpcCode, missing.httpStatus, missing.headers['www-authenticate']],
      [status.UNAUTHENTICATED, 'Unauthorized', 'Bearer'],
    );
    assert.equal(missing.headers['content-type'], 'application/json');
    assert.equal(missing.body.error, 'unauthenticated');
    assert.match(missing.body.message, /bearer token or an API key/);

    const [key] = await gh.db.query<{ kid: string; private_jwk: JWK }>(
      'SELECT kid, private_jwk FROM signing_keys WHERE retired_at IS NULL LIMIT 1',
    );
    assert.ok(key);
    const u = await registerUser(gh);
    const sign = async (iat: number, exp: number) =>
      new SignJWT({ sid: u.tokens.sessionId, roles: [] })
        .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'at+jwt' })
        .setIssuer('gatehouse')
        .setAudience('gatehouse')
        .setSubject(u.user.id)
        .setJti(randomUUID())
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .sign(await importJWK(key.private_jwk, 'RS256'));
    const now = Math.floor(Date.now() / 1000);
    // Control: the same token, unexpired, passes; so the expired one fails for its expiry.
    assert.equal((await check({ headers: bearer(await sign(now, now + 300)) })).status?.code, 0);
    const expired = await sign(now - 7200, now - 3600);

    for (const headers of [
      bearer(expired),
      bearer('a.b.c'),
      bearer('ghk_0000000000000000000000000000000000000000000000000'),
      { authorization: 'Basic dXNlcjpwYXNz' },
      { 'x-api-key': 'not-a-key-at-all' },
    ]) {
      const d = denial(await check({ headers }));
      assert.deepEqual(
        [d.grpcCode, d.httpStatus, d.headers['www-authenticate'], d.body.error],
        [status.UNAUTHENTICATED, 'Unauthorized', 'Bearer error="invalid_token"', 'unauthenticated'],
        JSON.stringify(headers),
      );
    }
  });

  it('denies on every instance after Logout, and after a key is revoked', async () => {
    const u = await registerUser(gh);
    const token = u.tokens.accessToken;
    for (const client of [envoy, envoy2]) {
      assert.equal((await check({ headers: bearer(token) }, client)).status?.code, status.OK);
    }
    await call(gh.auth, 'logout', {}, { token });
    for (const client of [envoy, envoy2]) {
      const res = await eventually(
        () => check({ headers: bearer(token) }, client),
        (r) => r.http_response === 'denied_response',
        { what: 'denial of the logged-out token' },
      );
      assert.equal(denial(res).httpStatus, 'Unauthorized');
    }

    const sa = await serviceAccount([]);
    for (const client of [envoy, envoy2]) {
      assert.equal((await check({ headers: bearer(sa.secret) }, client)).status?.code, 0);
    }
    await call(
      gh.serviceAccounts,
      'revokeServiceAccountKey',
      { serviceAccountId: sa.id, apiKeyId: sa.keyId },
      { token: adminToken },
    );
    for (const client of [envoy, envoy2]) {
      const res = await eventually(
        () => check({ headers: bearer(sa.secret) }, client),
        (r) => r.http_response === 'denied_response',
        { what: 'denial of the revoked key' },
      );
      assert.equal(denial(res).httpStatus, 'Unauthorized');
    }
  });

  it("decides a route's gatehouse_permission like CheckPermission: present OK, absent 403", async () => {
    const reader = uniqueName('reader');
    await fx.role(reader, 'global', ['bookings:read']);
    const u = await registerUser(gh);
    await sql(`UPDATE users SET roles = $1 WHERE id = $2`, [[reader], u.user.id]);
    const token = (await call(gh.auth, 'login', { identifier: u.email, password: u.password }))
      .tokens?.accessToken as string;
    const allowed = await check({
      headers: bearer(token),
      contextExtensions: { gatehouse_permission: 'bookings:read' },
    });
    assert.equal(upstreamChanges(allowed).set['x-gatehouse-user-id'], u.user.id);
    const denied = denial(
      await check({
        headers: bearer(token),
        contextExtensions: { gatehouse_permission: 'bookings:write' },
      }),
    );
    assert.deepEqual(
      [denied.grpcCode, denied.httpStatus, denied.body.error],
      [status.PERMISSION_DENIED, 'Forbidden', 'permission_denied'],
    );
    assert.match(denied.body.message, /bookings:write/);
    assert.equal(denied.headers['www-authenticate'], undefined);

    // A key acts with its roles only: a key without the reader role is refused the route.
    const key = await call(gh.apiKeys, 'createApiKey', { displayName: '', roles: [] }, { token });
    const byKey = await check({
      headers: bearer(key.secret),
      contextExtensions: { gatehouse_permission: 'bookings:read' },
    });
    assert.equal(denial(byKey).httpStatus, 'Forbidden');
  });

  it("decides an organisation's permission in the token's active organisation, or the route's", async () => {
    const housekeeper = await fx.role(uniqueName('housekeeper'), 'organization', ['rooms:clean']);
    const [org, other] = [await fx.organization(), await fx.organization()];
    const u = await registerUser(gh);
    await fx.member(org, u.user.id, [housekeeper]);
    const route = { gatehouse_permission: 'rooms:clean' };

    // Without an active organisation, only global roles count.
    const global = await check({ headers: bearer(u.tokens.accessToken), contextExtensions: route });
    assert.equal(denial(global).httpStatus, 'Forbidden');

    const switched = await call(
      gh.auth,
      'switchOrganization',
      { organizationId: org },
      { token: u.tokens.accessToken },
    );
    const orgToken = switched.accessToken;
    const inOrg = upstreamChanges(
      await check({ headers: bearer(orgToken), contextExtensions: route }),
    );
    assert.equal(inOrg.set['x-gatehouse-organization-id'], org);

    // A route naming its organisation decides there, whatever the token's active one.
    const named = upstreamChanges(
      await check({
        headers: bearer(u.tokens.accessToken),
        contextExtensions: { ...route, gatehouse_organization: org },
      }),
    );
    assert.equal(named.set['x-gatehouse-organization-id'], org);
    const elsewhere = await check({
      headers: bearer(orgToken),
      contextExtensions: { ...route, gatehouse_organization: other },
    });
    assert.equal(denial(elsewhere).httpStatus, 'Forbidden');

    // Removing the membership applies on its own (no restart, no new token).
    await sql(`DELETE FROM memberships WHERE user_id = $1`, [u.user.id]);
    await eventually(
      () => check({ headers: bearer(orgToken), contextExtensions: route }),
      (r) => r.http_response === 'denied_response',
      { what: 'denial after the membership is removed' },
    );
  });

  it('uses the configured header names and removes the credential when configured', async () => {
    const u = await registerUser(gh);
    const res = await check(
      { headers: { ...bearer(u.tokens.accessToken), 'x-user-id': 'forged' } },
      envoy2,
    );
    const { set, removed } = upstreamChanges(res);
    assert.equal(set['x-user-id'], u.user.id);
    assert.equal(set['x-gatehouse-user-id'], undefined);
    assert.ok(removed.includes('authorization'), 'EXT_AUTHZ_REMOVE_CREDENTIAL=true');
    // EXT_AUTHZ_CREDENTIAL_HEADERS=authorization: x-api-key is not read there.
    const key = await call(
      gh.apiKeys,
      'createApiKey',
      { displayName: '', roles: [] },
      { token: u.tokens.accessToken },
    );
    assert.equal(
      denial(await check({ headers: { 'x-api-key': key.secret } }, envoy2)).httpStatus,
      'Unauthorized',
    );
    assert.equal((await check({ headers: { 'x-api-key': key.secret } })).status?.code, status.OK);
  });

  it('denies a session that must enrol a second factor first (MFA_REQUIRED_ROLES)', async () => {
    await fx.role('night-manager', 'global', []);
    const u = await registerUser(gh);
    await sql(`UPDATE users SET roles = '{night-manager}' WHERE id = $1`, [u.user.id]);
    const token = (await call(gh.auth, 'login', { identifier: u.email, password: u.password }))
      .tokens?.accessToken as string;
    const d = denial(await check({ headers: bearer(token) }, envoy2));
    assert.deepEqual([d.httpStatus, d.body.error], ['Forbidden', 'mfa_enrollment_required']);
    // The instance without the rule lets the same session through.
    assert.equal((await check({ headers: bearer(token) })).status?.code, status.OK);
  });

  it("spends the end user's credential budget on refused keys, not the gateway's", async () => {
    // RATE_LIMIT_IP_CREDENTIAL_POINTS=3 on the second instance.
    const guesser = '198.51.100.23';
    const wrong = { headers: bearer(`ghk_${'A'.repeat(49)}`), sourceAddress: guesser };
    const answers: string[] = [];
    for (let i = 0; i < 3; i++) answers.push(denial(await check(wrong, envoy2)).httpStatus);
    assert.deepEqual(answers, ['Unauthorized', 'Unauthorized', 'Unauthorized']);
    const limited = denial(await check(wrong, envoy2));
    assert.deepEqual(
      [limited.grpcCode, limited.httpStatus, limited.body.error],
      [status.RESOURCE_EXHAUSTED, 'TooManyRequests', 'rate_limited'],
    );
    assert.match(limited.headers['retry-after'] ?? '', /^\d+$/);
    // Another client behind the same gateway is not throttled.
    const u = await registerUser(gh);
    const other = await check(
      { headers: bearer(u.tokens.accessToken), sourceAddress: '198.51.100.24' },
      envoy2,
    );
    assert.equal(other.status?.code, status.OK);
  });

  it('is served by reflection and works from buf curl as docs/envoy.md prints it', async () => {
    const u = await registerUser(gh);
    const res = await bufCurl(`http://${gh.target}/envoy.service.auth.v3.Authorization/Check`, [
      '-H',
      `authorization: Bearer ${gatewayKey}`,
      '-d',
      JSON.stringify({
        attributes: {
          request: { http: { headers: { authorization: `Bearer ${u.tokens.accessToken}` } } },
          contextExtensions: {},
        },
      }),
    ]);
    assert.equal(res.code, 0, res.stderr);
    const answer = JSON.parse(res.stdout);
    assert.deepEqual(answer.status ?? {}, {}, 'status OK (code 0, not written)');
    assert.ok(
      answer.okResponse.headers.some(
        (h: { header: { key: string; value: string } }) =>
          h.header.key === 'x-gatehouse-user-id' && h.header.value === u.user.id,
      ),
      res.stdout,
    );
  });
});
