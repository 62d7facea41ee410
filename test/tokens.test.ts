import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  randomUUID,
  sign,
} from 'node:crypto';
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

/** A Gatehouse with `env`, its active signing key, and a registered user's session token. */
async function startWithSignedInUser(env: Record<string, string>) {
  const gh = await startGatehouse(env);
  const [key] = await gh.db.query<{ kid: string; private_jwk: JWK }>(
    'SELECT kid, private_jwk FROM signing_keys WHERE retired_at IS NULL',
  );
  assert.ok(key);
  const u = await registerUser(gh);
  return {
    gh,
    privateJwk: key.private_jwk,
    kid: key.kid,
    userId: u.user.id,
    sessionId: u.tokens.sessionId,
    good: u.tokens.accessToken,
  };
}

describe('access tokens', () => {
  let gh: Gatehouse;
  let privateJwk: JWK;
  let kid: string;
  let userId: string;
  let sessionId: string;
  let good: string;

  before(async () => {
    ({ gh, privateJwk, kid, userId, sessionId, good } = await startWithSignedInUser({
      JWT_KEY_REFRESH_SEC: '1',
    }));
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

describe('forged and tampered tokens, for every signing algorithm', () => {
  for (const algorithm of ['RS256', 'ES256', 'EdDSA'] as const) {
    describe(algorithm, () => {
      let gh: Gatehouse;
      let privateJwk: JWK;
      let kid: string;
      let userId: string;
      let sessionId: string;
      let good: string;

      before(async () => {
        ({ gh, privateJwk, kid, userId, sessionId, good } = await startWithSignedInUser({
          JWT_ALGORITHM: algorithm,
        }));
      });
      after(async () => {
        await gh.stop();
      });

      const validate = (accessToken: string) => call(gh.auth, 'validateToken', { accessToken });
      const now = () => Math.floor(Date.now() / 1000);

      /** A token signed with `jwk` (this algorithm), claims and header editable. */
      async function forge(
        jwk: JWK,
        header: Record<string, unknown> = {},
        claims: Record<string, unknown> = {},
      ): Promise<string> {
        const key = await importJWK(jwk, algorithm);
        return new SignJWT({
          sid: sessionId,
          roles: [],
          sub: userId,
          jti: '00000000-0000-4000-8000-000000000000',
          iss: 'gatehouse',
          aud: 'gatehouse',
          iat: now(),
          exp: now() + 300,
          ...claims,
        })
          .setProtectedHeader({ alg: algorithm, kid, typ: 'at+jwt', ...header })
          .sign(key);
      }
      /** `token` with its payload replaced, the original signature kept. */
      function tamper(token: string, edit: (claims: Record<string, unknown>) => object): string {
        const [h, p, sig] = token.split('.') as [string, string, string];
        const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
        return `${h}.${b64(edit(claims))}.${sig}`;
      }
      /** An HMAC token keyed with `secret` (the algorithm-confusion attack). */
      function hmac(alg: 'HS256' | 'HS384' | 'HS512', secret: string | Buffer): string {
        const [, p] = good.split('.') as [string, string];
        const input = `${b64({ alg, typ: 'at+jwt', kid })}.${p}`;
        const digest = `sha${alg.slice(2)}`;
        return `${input}.${createHmac(digest, secret).update(input).digest('base64url')}`;
      }

      it('accepts its own tokens and a well-formed control token signed with its key', async () => {
        assert.equal(decodeProtectedHeader(good).alg, algorithm);
        assert.equal((await validate(good)).active, true);
        assert.equal((await validate(await forge(privateJwk))).active, true, 'control');
        const [, p] = good.split('.') as [string, string];
        const raw = signRaw(
          createPrivateKey({ key: privateJwk as never, format: 'jwk' }),
          { alg: algorithm, kid, typ: 'at+jwt' },
          JSON.parse(Buffer.from(p, 'base64url').toString()),
        );
        assert.equal((await validate(raw)).active, true, 'control for the crit case: node:crypto');
        const withinSkew = await forge(privateJwk, {}, { exp: now() - 5 });
        assert.equal((await validate(withinSkew)).active, true, 'expired inside the clock skew');
      });

      it('answers active=false, with no claims, for every forgery', async () => {
        const [h, p, sig] = good.split('.') as [string, string, string];
        const publicKey = createPublicKey({ key: privateJwk as never, format: 'jwk' });
        const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
        const { d: _d, ...publicJwk } = privateJwk;
        const foreign = await generateKeyPair(algorithm, { extractable: true });
        const foreignJwk = await exportJWK(foreign.privateKey);
        const none = (alg: string) => `${b64({ alg, typ: 'at+jwt', kid })}.${p}.`;
        const cases: Record<string, string> = {
          'claims tampered: roles': tamper(good, (c) => ({ ...c, roles: ['admin'] })),
          'claims tampered: sub': tamper(good, (c) => ({ ...c, sub: randomUUID() })),
          'claims tampered: sid': tamper(good, (c) => ({ ...c, sid: randomUUID() })),
          'claims tampered: exp': tamper(good, (c) => ({ ...c, exp: now() + 86_400 })),
          'header tampered: typ': `${b64({ ...decodeProtectedHeader(good), typ: 'JWT' })}.${p}.${sig}`,
          'signature truncated': `${h}.${p}.${sig.slice(0, -4)}`,
          'signature empty': `${h}.${p}.`,
          'signature of another token': `${h}.${p}.${(await forge(privateJwk)).split('.')[2]}`,
          expired: await forge(privateJwk, {}, { iat: now() - 7200, exp: now() - 3600 }),
          'not yet valid (nbf)': await forge(privateJwk, {}, { nbf: now() + 3600 }),
          'wrong audience': await forge(privateJwk, {}, { aud: 'someone-else' }),
          'wrong issuer': await forge(privateJwk, {}, { iss: 'https://evil.example' }),
          'wrong typ': await forge(privateJwk, { typ: 'JWT' }),
          'no typ': await forge(privateJwk, { typ: undefined }),
          'no exp': await forge(privateJwk, {}, { exp: undefined }),
          'no jti': await forge(privateJwk, {}, { jti: undefined }),
          'no sub': await forge(privateJwk, {}, { sub: undefined }),
          'exp not a number': await forge(privateJwk, {}, { exp: String(now() + 300) }),
          'roles not strings': await forge(privateJwk, {}, { roles: [1] }),
          'sid and api_key_id both': await forge(privateJwk, {}, { api_key_id: randomUUID() }),
          'alg none': none('none'),
          'alg None': none('None'),
          'alg NONE': none('NONE'),
          'HS256 keyed with the public key PEM': hmac('HS256', publicPem),
          'HS384 keyed with the public key PEM': hmac('HS384', publicPem),
          'HS512 keyed with the public key PEM': hmac('HS512', publicPem),
          'HS256 keyed with the public JWK': hmac('HS256', JSON.stringify(publicJwk)),
          'HS256 keyed with the DER public key': hmac(
            'HS256',
            publicKey.export({ type: 'spki', format: 'der' }),
          ),
          'unknown kid': await forge(foreignJwk, { kid: 'not-a-published-kid' }),
          'no kid': await forge(privateJwk, { kid: undefined }),
          'foreign key under the published kid': await forge(foreignJwk),
          'embedded jwk': await forge(foreignJwk, { jwk: await exportJWK(foreign.publicKey) }),
          'jku header': await forge(privateJwk, { jku: 'http://127.0.0.1:9/jwks.json' }),
          'x5u header': await forge(privateJwk, { x5u: 'http://127.0.0.1:9/cert.pem' }),
          'x5c header': await forge(privateJwk, { x5c: ['MIIB'] }),
          'crit header': signRaw(
            createPrivateKey({ key: privateJwk as never, format: 'jwk' }),
            {
              alg: algorithm,
              kid,
              typ: 'at+jwt',
              crit: ['x-gatehouse-test'],
              'x-gatehouse-test': 1,
            },
            JSON.parse(Buffer.from(p, 'base64url').toString()),
          ),
          'another algorithm under this kid': await (async () => {
            const other = algorithm === 'RS256' ? 'ES256' : 'RS256';
            const k = await generateKeyPair(other, { extractable: true });
            return new SignJWT({ sid: sessionId, roles: [], jti: randomUUID() })
              .setProtectedHeader({ alg: other, kid, typ: 'at+jwt' })
              .setIssuer('gatehouse')
              .setAudience('gatehouse')
              .setSubject(userId)
              .setIssuedAt()
              .setExpirationTime('5m')
              .sign(k.privateKey);
          })(),
          'four segments': `${good}.${sig}`,
          'two segments': `${h}.${p}`,
          garbage: 'a.b.c',
          'not base64url': `${h}.${p}!.${sig}`,
        };
        if (algorithm === 'ES256') {
          // JOSE signatures are r||s; a DER-encoded one is malformed even if mathematically valid.
          const der = derSignature(Buffer.from(sig, 'base64url'));
          cases['ES256 signature DER-encoded'] = `${h}.${p}.${der.toString('base64url')}`;
        }
        for (const [name, token] of Object.entries(cases)) {
          const v = await validate(token);
          assert.equal(v.active, false, name);
          assert.equal(v.userId, '', `${name}: no claims leak when inactive`);
        }
        assert.equal((await validate(good)).active, true, 'the real token still validates');
      });

      it('publishes the key in the JWKS without private members', async () => {
        const jwks = JSON.parse((await call(gh.auth, 'getJwks', {})).jwksJson) as { keys: JWK[] };
        assert.equal(jwks.keys[0]?.alg, algorithm);
        assert.equal(jwks.keys[0]?.d, undefined);
      });
    });
  }
});

/** A compact JWS over `header` and `claims` made with node:crypto (jose refuses some headers). */
function signRaw(key: KeyObject, header: Record<string, unknown>, claims: object): string {
  const input = `${b64(header)}.${b64(claims)}`;
  const data = Buffer.from(input);
  const signature =
    header.alg === 'EdDSA'
      ? sign(null, data, key)
      : header.alg === 'ES256'
        ? sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' })
        : sign('sha256', data, key);
  return `${input}.${signature.toString('base64url')}`;
}

/** The DER (ASN.1 SEQUENCE of two INTEGERs) form of a raw 64-byte ES256 signature r||s. */
function derSignature(raw: Buffer): Buffer {
  const int = (b: Buffer) => {
    let v = b;
    while (v.length > 1 && v[0] === 0 && (v[1] as number) < 0x80) v = v.subarray(1);
    if ((v[0] as number) >= 0x80) v = Buffer.concat([Buffer.from([0]), v]);
    return Buffer.concat([Buffer.from([0x02, v.length]), v]);
  };
  const body = Buffer.concat([int(raw.subarray(0, 32)), int(raw.subarray(32))]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}
