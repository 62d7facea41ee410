import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHmac, createPublicKey } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  SignJWT,
} from 'jose';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { registerUser } from './helpers/users.ts';

const run = promisify(execFile);
const b64 = (v: object | string) =>
  Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

describe('access tokens', () => {
  let gh: Gatehouse;
  let privateJwk: JWK;
  let kid: string;
  let userId: string;
  let sessionId: string;
  let good: string;

  before(async () => {
    gh = await startGatehouse({ JWT_KEY_REFRESH_SEC: '1' });
    const [key] = await gh.db.query<{ kid: string; private_jwk: JWK }>(
      'SELECT kid, private_jwk FROM signing_keys WHERE retired_at IS NULL',
    );
    assert.ok(key);
    privateJwk = key.private_jwk;
    kid = key.kid;
    const u = await registerUser(gh);
    userId = u.user.id;
    sessionId = u.tokens.sessionId;
    good = u.tokens.accessToken;
  });
  after(async () => {
    await gh.stop();
  });

  const validate = (accessToken: string) => call(gh.auth, 'validateToken', { accessToken });
  const claims = () => ({ sid: sessionId, roles: [] as string[] });

  async function signWith(
    jwk: JWK,
    header: Record<string, unknown>,
    edit: (j: SignJWT) => SignJWT = (j) => j,
  ): Promise<string> {
    const key = await importJWK(jwk, 'RS256');
    const jwt = new SignJWT(claims())
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'at+jwt', ...header })
      .setIssuer('gatehouse')
      .setAudience('gatehouse')
      .setSubject(userId)
      .setJti('00000000-0000-4000-8000-000000000000')
      .setIssuedAt()
      .setExpirationTime('5m');
    return edit(jwt).sign(key);
  }

  it('accepts a token it issued and reports RFC 7662-style fields', async () => {
    const header = decodeProtectedHeader(good);
    assert.deepEqual([header.alg, header.typ, header.kid], ['RS256', 'at+jwt', kid]);
    const v = await validate(good);
    assert.equal(v.active, true);
    assert.equal(v.userId, userId);
    assert.equal(v.sessionId, sessionId);
    assert.equal(v.issuer, 'gatehouse');
    assert.deepEqual(v.audience, ['gatehouse']);
    assert.ok(v.expiresAt && v.expiresAt.getTime() > Date.now() + 14 * 60_000);
    assert.equal(
      (await validate(await signWith(privateJwk, {}))).active,
      true,
      'control: a well-formed forged-by-us token passes',
    );
  });

  it('answers active=false for tampered, expired, wrong-audience/issuer/typ, alg:none, HS256 and foreign keys', async () => {
    const [h, p, s] = good.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const tampered = `${h}.${b64({ ...payload, roles: ['admin'] })}.${s}`;
    const expired = await signWith(privateJwk, {}, (j) =>
      j
        .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
        .setExpirationTime(Math.floor(Date.now() / 1000) - 3600),
    );
    const wrongAud = await signWith(privateJwk, {}, (j) => j.setAudience('someone-else'));
    const wrongIss = await signWith(privateJwk, {}, (j) => j.setIssuer('https://evil.example'));
    const wrongTyp = await signWith(privateJwk, { typ: 'JWT' });
    const none = `${b64({ alg: 'none', typ: 'at+jwt', kid })}.${p}.`;
    const publicPem = createPublicKey({ key: privateJwk as never, format: 'jwk' }).export({
      type: 'spki',
      format: 'pem',
    });
    const hsInput = `${b64({ alg: 'HS256', typ: 'at+jwt', kid })}.${p}`;
    const hs256 = `${hsInput}.${createHmac('sha256', publicPem).update(hsInput).digest('base64url')}`;
    const foreign = await generateKeyPair('RS256', { extractable: true });
    const foreignJwk = await exportJWK(foreign.privateKey);
    const unknownKid = await signWith(foreignJwk, { kid: 'not-a-published-kid' });
    const embeddedJwk = await signWith(foreignJwk, { jwk: await exportJWK(foreign.publicKey) });
    const jku = await signWith(privateJwk, { jku: 'http://127.0.0.1:9/jwks.json' });
    const sameKidForeignKey = await signWith(foreignJwk, {});
    const cases = {
      tampered,
      expired,
      wrongAud,
      wrongIss,
      wrongTyp,
      none,
      hs256,
      unknownKid,
      embeddedJwk,
      jku,
      sameKidForeignKey,
      garbage: 'a.b.c',
    };
    for (const [name, token] of Object.entries(cases)) {
      const v = await validate(token);
      assert.equal(v.active, false, name);
      assert.equal(v.userId, '', `${name}: no claims leak when inactive`);
    }
  });

  it('keeps old tokens valid across a key rotation picked up without restart', async () => {
    const before = await registerUser(gh);
    await run(process.execPath, ['src/cli/keys.ts', 'rotate'], {
      env: { ...process.env, DATABASE_URL: gh.db.url, LOG_LEVEL: 'silent' },
    });
    const deadline = Date.now() + 15_000;
    let after = await registerUser(gh);
    while (decodeProtectedHeader(after.tokens.accessToken).kid === kid && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      after = await registerUser(gh);
    }
    const newKid = decodeProtectedHeader(after.tokens.accessToken).kid;
    assert.notEqual(newKid, kid, 'the running server signs with the new key');
    assert.equal(
      (await validate(before.tokens.accessToken)).active,
      true,
      'a token of the retired key is still valid',
    );
    assert.equal((await validate(after.tokens.accessToken)).active, true);
    const jwks = JSON.parse((await call(gh.auth, 'getJwks', {})).jwksJson) as { keys: JWK[] };
    assert.deepEqual(jwks.keys.map((k) => k.kid).sort(), [kid, newKid].sort());
    for (const k of jwks.keys) {
      for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi'])
        assert.equal(k[member as keyof JWK], undefined);
    }
  });
});

describe('configurable signing algorithms', () => {
  for (const algorithm of ['ES256', 'EdDSA'] as const) {
    it(`signs and verifies with ${algorithm}`, async () => {
      const gh = await startGatehouse({ JWT_ALGORITHM: algorithm });
      try {
        const { tokens } = await registerUser(gh);
        assert.equal(decodeProtectedHeader(tokens.accessToken).alg, algorithm);
        assert.equal(
          (await call(gh.auth, 'validateToken', { accessToken: tokens.accessToken })).active,
          true,
        );
        const jwks = JSON.parse((await call(gh.auth, 'getJwks', {})).jwksJson) as { keys: JWK[] };
        assert.equal(jwks.keys[0]?.alg, algorithm);
        assert.equal(jwks.keys[0]?.d, undefined);
      } finally {
        await gh.stop();
      }
    });
  }
});
