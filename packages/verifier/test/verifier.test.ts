import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { credentials } from '@grpc/grpc-js';
import { decodeProtectedHeader, importJWK, type JWK, SignJWT } from 'jose';
import { eventually } from '../../../test/helpers/eventually.ts';
import { runCli } from '../../../test/helpers/runCli.ts';
import { call, type Gatehouse, startGatehouse } from '../../../test/helpers/startGatehouse.ts';
import { redisUrl } from '../../../test/helpers/testDatabase.ts';
import { registerUser } from '../../../test/helpers/users.ts';
import {
  createVerifier,
  type Identity,
  type RevocationEvent,
  RevocationReason,
  type Verifier,
  type VerifierErrorCode,
  type VerifierOptions,
} from '../src/index.ts';
import { recordCalls } from './recordCalls.ts';
import { adminToken, serviceAccountKey, watcherKey } from './watcher.ts';

/** Heartbeats every second, keys polled every second: the stream and rotations show quickly. */
const SERVER_ENV = { REVOCATION_HEARTBEAT_SEC: '1', JWT_KEY_REFRESH_SEC: '1' };

/** What verify() answered: the identity, or the VerifierError's code. */
async function outcome(v: Verifier, token: string): Promise<Identity | VerifierErrorCode> {
  try {
    return await v.verify(token);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code !== 'string') throw error;
    return code as VerifierErrorCode;
  }
}

async function expectCode(v: Verifier, token: string, code: VerifierErrorCode): Promise<void> {
  const got = await outcome(v, token);
  assert.equal(typeof got === 'string' ? got : `verified as ${got.kind}`, code);
}

/** A verifier of `gh`'s tokens, recording every call it makes; closed by `after`. */
function verifierFor(
  target: string,
  apiKey: string,
  extra: Partial<VerifierOptions> = {},
): { verifier: Verifier; record: ReturnType<typeof recordCalls>; events: RevocationEvent[] } {
  const record = recordCalls();
  const events: RevocationEvent[] = [];
  const verifier = createVerifier({
    target,
    credentials: { apiKey, channel: credentials.createInsecure() },
    interceptors: [record.interceptor],
    reconnectBackoff: { initialMs: 20, maxMs: 500 },
    onRevocation: (e) => events.push(e),
    ...extra,
  });
  return { verifier, record, events };
}

/** Calls other than the stream itself (GetJwks, ValidateToken) made so far. */
const unaryCalls = (record: ReturnType<typeof recordCalls>) =>
  record.calls.filter((c) => c.method !== 'WatchRevocations').length;

describe('@gatehouse/verifier against a real Gatehouse', () => {
  let gh: Gatehouse;
  let admin: string;
  let watcher: string;
  let v: Verifier;
  let record: ReturnType<typeof recordCalls>;
  let events: RevocationEvent[];
  let signingKey: { kid: string; jwk: JWK };
  const closers: Verifier[] = [];

  before(async () => {
    gh = await startGatehouse(SERVER_ENV);
    admin = await adminToken(gh);
    watcher = await watcherKey(gh, admin);
    ({ verifier: v, record, events } = verifierFor(gh.target, watcher));
    closers.push(v);
    await v.ready();
    const [key] = await gh.db.query<{ kid: string; private_jwk: JWK }>(
      'SELECT kid, private_jwk FROM signing_keys WHERE retired_at IS NULL',
    );
    assert.ok(key);
    signingKey = { kid: key.kid, jwk: key.private_jwk };
  });
  after(async () => {
    for (const c of closers) c.close();
    await gh.stop();
  });

  it('verifies a session token locally: a typed identity, and no call to Gatehouse per verify', async () => {
    const u = await registerUser(gh);
    const first = await v.verify(u.tokens.accessToken);
    assert.equal(first.kind, 'user');
    assert.ok(first.kind === 'user');
    assert.equal(first.userId, u.user.id);
    assert.equal(first.sessionId, u.tokens.sessionId);
    assert.deepEqual(first.roles, []);
    assert.deepEqual(first.amr, ['pwd']);
    assert.ok(first.authTime instanceof Date);
    assert.equal(first.organization, null);
    assert.equal(first.credential, 'access_token');
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first.roles), 'shared, so frozen');
    const before = unaryCalls(record);
    for (let i = 0; i < 200; i++) {
      assert.equal((await v.verify(u.tokens.accessToken)).tokenId, first.tokenId);
    }
    assert.equal(unaryCalls(record), before, 'no GetJwks or ValidateToken for 200 verifies');
    assert.equal(record.count('WatchRevocations'), 1, 'one stream, opened once');
  });

  it('refuses tampered, expired, wrong-issuer, wrong-audience, wrong-typ and alg:none tokens', async () => {
    const u = await registerUser(gh);
    const [h, p, s] = u.tokens.accessToken.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, roles: ['admin'] })).toString(
      'base64url',
    );
    const key = await importJWK(signingKey.jwk, 'RS256');
    const sign = (edit: (j: SignJWT) => SignJWT, header: Record<string, unknown> = {}) =>
      edit(
        new SignJWT({ sid: u.tokens.sessionId, roles: [] })
          .setProtectedHeader({ alg: 'RS256', kid: signingKey.kid, typ: 'at+jwt', ...header })
          .setIssuer('gatehouse')
          .setAudience('gatehouse')
          .setSubject(u.user.id)
          .setJti('00000000-0000-4000-8000-000000000001')
          .setIssuedAt()
          .setExpirationTime('5m'),
      ).sign(key);
    const control = await sign((j) => j);
    assert.equal((await v.verify(control)).kind, 'user', 'control: the same recipe, untouched');
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', kid: signingKey.kid, typ: 'at+jwt' })).toString('base64url')}.${p}.`;

    await expectCode(v, `${h}.${forged}.${s}`, 'INVALID_TOKEN');
    await expectCode(v, `${h}.${p}.${s.slice(0, -4)}AAAA`, 'INVALID_TOKEN');
    await expectCode(
      v,
      await sign((j) =>
        j
          .setIssuedAt(Math.floor(Date.now() / 1000) - 3600)
          .setExpirationTime(Math.floor(Date.now() / 1000) - 1800),
      ),
      'TOKEN_EXPIRED',
    );
    await expectCode(v, await sign((j) => j.setIssuer('someone-else')), 'INVALID_TOKEN');
    await expectCode(v, await sign((j) => j.setAudience('another-api')), 'INVALID_TOKEN');
    await expectCode(v, await sign((j) => j, { typ: 'JWT' }), 'INVALID_TOKEN');
    await expectCode(
      v,
      await sign((j) => j, { jku: 'https://attacker.example/jwks.json' }),
      'INVALID_TOKEN',
    );
    await expectCode(v, await sign((j) => j.setNotBefore('1h')), 'INVALID_TOKEN');
    await expectCode(v, unsigned, 'INVALID_TOKEN');
    await expectCode(v, 'a.b.c', 'INVALID_TOKEN');
    await expectCode(v, '', 'INVALID_TOKEN');

    const { verifier: otherIssuer } = verifierFor(gh.target, watcher, { issuer: 'elsewhere' });
    closers.push(otherIssuer);
    await otherIssuer.ready();
    await expectCode(otherIssuer, u.tokens.accessToken, 'INVALID_TOKEN');
  });

  it('rejects a token after Logout, learnt from the stream, with no call per verify', async () => {
    const u = await registerUser(gh);
    assert.equal((await v.verify(u.tokens.accessToken)).kind, 'user');
    const callsBefore = unaryCalls(record);
    const eventsBefore = events.length;
    await call(gh.auth, 'logout', {}, { token: u.tokens.accessToken });
    // The deadline only bounds a test that would otherwise hang; the claim is that the answer
    // changes without the verifier asking Gatehouse anything.
    const rejected = await eventually(
      () => outcome(v, u.tokens.accessToken),
      (o) => o === 'TOKEN_REVOKED',
      { what: 'the logged-out token is refused' },
    );
    assert.equal(rejected, 'TOKEN_REVOKED');
    assert.equal(unaryCalls(record), callsBefore, 'no GetJwks or ValidateToken while waiting');
    const logout = events.slice(eventsBefore).find((e) => e.sessionId === u.tokens.sessionId);
    assert.ok(logout, 'the rejection came with a revocation event of that session');
    assert.equal(logout.reason, RevocationReason.REVOCATION_REASON_LOGOUT);
    const other = await registerUser(gh);
    assert.equal((await v.verify(other.tokens.accessToken)).kind, 'user', 'others unaffected');
  });

  it('checks a token issued before the verifier started once with ValidateToken, then locally', async () => {
    const live = await registerUser(gh);
    const gone = await registerUser(gh);
    await call(gh.auth, 'logout', {}, { token: gone.tokens.accessToken });
    // Make the stream's coverage start strictly after both tokens' `iat` second.
    const issuedAt = Math.floor(Date.now() / 1000);
    await eventually(
      async () => Math.floor(Date.now() / 1000),
      (now) => now > issuedAt,
    );
    const late = verifierFor(gh.target, watcher);
    closers.push(late.verifier);
    await late.verifier.ready();
    assert.equal((await late.verifier.verify(live.tokens.accessToken)).kind, 'user');
    assert.equal(
      late.record.count('ValidateToken'),
      1,
      'asked once about a token it never saw revoked',
    );
    await late.verifier.verify(live.tokens.accessToken);
    assert.equal(late.record.count('ValidateToken'), 1, 'then answered locally');
    await expectCode(late.verifier, gone.tokens.accessToken, 'TOKEN_REVOKED');
  });

  it('refetches the JWKS once for an unknown kid after a key rotation, not for made-up kids', async () => {
    const rot = verifierFor(gh.target, watcher, { jwksMinRefetchIntervalMs: 600_000 });
    closers.push(rot.verifier);
    await rot.verifier.ready();
    assert.equal(rot.record.count('GetJwks'), 1, 'the initial fetch');
    const rotated = await runCli('keys', ['rotate'], {
      DATABASE_URL: gh.db.url,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: gh.redisKeyPrefix,
    });
    assert.equal(rotated.code, 0, rotated.stderr);
    const kid = /new signing key (\S+)/.exec(rotated.stdout)?.[1];
    assert.ok(kid, rotated.stdout);
    const users = await Promise.all([1, 2, 3].map(() => registerUser(gh)));
    // The server picks the new key up within JWT_KEY_REFRESH_SEC; log in until it signs with it.
    const fresh = await eventually(
      () =>
        Promise.all(
          users.map(
            async (u) =>
              (await call(gh.auth, 'login', { identifier: u.email, password: u.password })).tokens
                ?.accessToken ?? '',
          ),
        ),
      (tokens) => tokens.every((t) => decodeProtectedHeader(t).kid === kid),
      { what: 'tokens signed with the new key' },
    );
    const identities = await Promise.all(fresh.map((t) => rot.verifier.verify(t)));
    assert.deepEqual(
      identities.map((i) => i.kind === 'user' && i.userId),
      users.map((u) => u.user.id),
    );
    assert.equal(rot.record.count('GetJwks'), 2, 'three concurrent misses shared one refetch');

    const foreign = await new SignJWT({ sid: users[0]?.tokens.sessionId, roles: [] })
      .setProtectedHeader({ alg: 'RS256', kid: 'made-up-kid', typ: 'at+jwt' })
      .setIssuer('gatehouse')
      .setAudience('gatehouse')
      .setSubject(users[0]?.user.id ?? '')
      .setJti('00000000-0000-4000-8000-000000000002')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(await importJWK(signingKey.jwk, 'RS256'));
    await expectCode(rot.verifier, foreign, 'UNKNOWN_KEY');
    await expectCode(rot.verifier, foreign, 'UNKNOWN_KEY');
    assert.equal(rot.record.count('GetJwks'), 2, 'unknown kids within the interval fetch nothing');
  });

  it('delegates API keys to ValidateToken with a cache that a key revocation evicts at once', async () => {
    const keyed = verifierFor(gh.target, watcher, { apiKeyCacheMs: 600_000 });
    closers.push(keyed.verifier);
    await keyed.verifier.ready();
    const sa = await serviceAccountKey(gh, admin);
    const identity = await keyed.verifier.verify(sa.secret);
    assert.equal(identity.kind, 'service_account');
    assert.ok(identity.kind === 'service_account');
    assert.equal(identity.serviceAccountId, sa.serviceAccountId);
    assert.equal(identity.apiKeyId, sa.apiKeyId);
    assert.equal(identity.credential, 'api_key');
    assert.deepEqual(identity.permissions, []);
    await keyed.verifier.verify(sa.secret);
    assert.equal(keyed.record.count('ValidateToken'), 1, 'the second answer came from the cache');
    await expectCode(keyed.verifier, `ghk_${'A'.repeat(49)}`, 'INVALID_API_KEY');

    // A token ExchangeApiKey minted from a second key verifies locally, and dies with its key.
    const minted = await serviceAccountKey(gh, admin);
    const exchanged = await call(gh.auth, 'exchangeApiKey', {}, { token: minted.secret });
    const local = await keyed.verifier.verify(exchanged.accessToken);
    assert.ok(local.kind === 'service_account' && local.credential === 'access_token');
    assert.equal(local.apiKeyId, minted.apiKeyId);

    for (const key of [sa, minted]) {
      await call(
        gh.serviceAccounts,
        'revokeServiceAccountKey',
        { serviceAccountId: key.serviceAccountId, apiKeyId: key.apiKeyId },
        { token: admin },
      );
    }
    // The cached answer would last ten minutes: only the stream's event can end it.
    await eventually(
      () => outcome(keyed.verifier, sa.secret),
      (o) => o === 'INVALID_API_KEY',
      { what: 'the revoked key is refused' },
    );
    await eventually(
      () => outcome(keyed.verifier, exchanged.accessToken),
      (o) => o === 'TOKEN_REVOKED',
      { what: 'the token minted from the revoked key is refused' },
    );
    assert.ok(keyed.events.some((e) => e.apiKeyId === sa.apiKeyId));
  });

  it('refuses API keys without a call when acceptApiKeys is off', async () => {
    const strict = verifierFor(gh.target, watcher, { acceptApiKeys: false });
    closers.push(strict.verifier);
    await strict.verifier.ready();
    const sa = await serviceAccountKey(gh, admin);
    await expectCode(strict.verifier, sa.secret, 'INVALID_TOKEN');
    assert.equal(strict.record.count('ValidateToken'), 0);
  });

  it('says why ready() cannot happen when its key lacks revocations:watch', async () => {
    const plain = await serviceAccountKey(gh, admin);
    const refused = verifierFor(gh.target, plain.secret);
    closers.push(refused.verifier);
    await assert.rejects(refused.verifier.ready(), /revocations:watch/);
    const u = await registerUser(gh);
    await expectCode(refused.verifier, u.tokens.accessToken, 'NOT_READY');
  });

  it('rejects every call after close()', async () => {
    const closing = verifierFor(gh.target, watcher);
    await closing.verifier.ready();
    closing.verifier.close();
    const u = await registerUser(gh);
    await expectCode(closing.verifier, u.tokens.accessToken, 'CLOSED');
    assert.equal(closing.verifier.status().stream.state, 'closed');
  });
});
