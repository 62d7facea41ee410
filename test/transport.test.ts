import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, constants } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, credentials, Metadata, status } from '@grpc/grpc-js';
import { Pool } from 'pg';
import { AuthServiceClient } from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import { DEFAULT_MAX_PING_STRIKES } from '../src/grpc/enforcePingPolicy.ts';
import { createLogger } from '../src/log.ts';
import {
  type EmbeddedPostgresHandle,
  startEmbeddedPostgres,
} from '../src/storage/startEmbeddedPostgres.ts';
import { bufCurl } from './helpers/bufCurl.ts';
import { freePort } from './helpers/redisServer.ts';
import { expectRpcError } from './helpers/rpcError.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import type { TestDatabase } from './helpers/testDatabase.ts';
import { registerUser } from './helpers/users.ts';

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate (openssl). */
function makeCertificates(dir: string) {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=test-ca',
  );
  for (const name of ['server', 'client']) {
    run(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${name}`,
    );
    const ext = join(dir, `${name}.ext`);
    execFileSync('sh', ['-c', `printf 'subjectAltName=IP:127.0.0.1\\n' > ${ext}`]);
    run(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '1',
      '-extfile',
      ext,
    );
  }
  const file = (f: string) => join(dir, f);
  return { file, read: (f: string) => readFileSync(file(f)) };
}

describe('TLS and mTLS', () => {
  let dir: string;
  let certs: ReturnType<typeof makeCertificates>;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-tls-'));
    certs = makeCertificates(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('serves gRPC and Connect over TLS and, with a client CA, requires client certificates', async () => {
    const gh = await startGatehouse({
      TLS_CERT_FILE: certs.file('server.crt'),
      TLS_KEY_FILE: certs.file('server.key'),
      TLS_CLIENT_CA_FILE: certs.file('ca.crt'),
    });
    try {
      const withCert = new AuthServiceClient(
        gh.target,
        credentials.createSsl(
          certs.read('ca.crt'),
          certs.read('client.key'),
          certs.read('client.crt'),
        ),
      );
      const jwks = await call(withCert, 'getJwks', {});
      assert.match(jwks.jwksJson, /"keys"/);
      withCert.close();

      const withoutCert = new AuthServiceClient(
        gh.target,
        credentials.createSsl(certs.read('ca.crt')),
      );
      await assert.rejects(
        call(withoutCert, 'getJwks', {}, { deadlineMs: 3000 }),
        (e: { code: number }) => [status.UNAVAILABLE, status.DEADLINE_EXCEEDED].includes(e.code),
      );
      withoutCert.close();
      const plaintext = new AuthServiceClient(gh.target, credentials.createInsecure());
      await assert.rejects(call(plaintext, 'getJwks', {}, { deadlineMs: 3000 }));
      plaintext.close();

      // The Connect port takes the same certificate and the same client-certificate rule.
      const jsonCall = (tls: { key?: Buffer; cert?: Buffer }) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = httpsRequest(
            {
              host: '127.0.0.1',
              port: gh.app.connectPort,
              path: '/gatehouse.auth.v1.AuthService/GetJwks',
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              ca: certs.read('ca.crt'),
              ...tls,
            },
            (res) => {
              let body = '';
              res.on('data', (d) => {
                body += String(d);
              });
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
            },
          );
          req.on('error', reject);
          req.end('{}');
        });
      const overHttps = await jsonCall({
        key: certs.read('client.key'),
        cert: certs.read('client.crt'),
      });
      assert.equal(overHttps.status, 200);
      assert.match(overHttps.body, /jwksJson/);
      await assert.rejects(jsonCall({}), 'no client certificate, no answer');
    } finally {
      await gh.stop();
    }
  });
});

describe('PostgreSQL outage', () => {
  // A PostgreSQL of the test's own, started the way embedded mode starts one (so it works in a
  // checkout the postgres user cannot reach), which the test may stop and start again.
  let pg: EmbeddedPostgresHandle;
  let dir: string;
  let port: number;
  let gh: Gatehouse;
  const quiet = createLogger('silent');
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-pg-'));
    port = await freePort();
    pg = await startEmbeddedPostgres(dir, port, quiet);
    const url = pg.url;
    // The embedded server's own database; the test never drops it (pg.stop() ends it all).
    const pool = new Pool({ connectionString: url, max: 1 });
    pool.on('error', () => {});
    const db: TestDatabase = {
      url,
      name: 'postgres',
      pool,
      query: async (text, values) => (await pool.query(text, values)).rows,
      drop: () => pool.end(),
    };
    gh = await startGatehouse({ DATABASE_CONNECT_TIMEOUT_MS: '1000' }, db);
  });
  after(async () => {
    await gh.stop({ keepDatabase: true });
    await gh.db.drop();
    await pg.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers UNAVAILABLE with RetryInfo while PostgreSQL is down and recovers by itself', async () => {
    const { email } = await registerUser(gh);
    await pg.stop();
    const s = await expectRpcError(
      call(gh.auth, 'login', { identifier: email, password: 'whatever-it-is-1' }),
      status.UNAVAILABLE,
      'DEPENDENCY_UNAVAILABLE',
    );
    assert.ok((s.retryDelayMs ?? 0) > 0, 'RetryInfo tells when to retry');
    assert.doesNotMatch(s.message, /ECONNREFUSED|postgres|SQL/i, 'no internals in the message');
    pg = await startEmbeddedPostgres(dir, port, quiet);
    let recovered = false;
    for (let i = 0; i < 50 && !recovered; i++) {
      try {
        await registerUser(gh);
        recovered = true;
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    assert.ok(recovered, 'the pool reconnects without a restart');
  });
});

describe('metadata limit', () => {
  let gh: Gatehouse;
  before(async () => {
    gh = await startGatehouse(); // GRPC_MAX_METADATA_BYTES: the default 16384
  });
  after(() => gh.stop());
  const rpcTotal = async (method: string, code: status) => {
    const text = await (await fetch(`http://127.0.0.1:${gh.app.httpPort}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`gatehouse_rpc_total{method="${method}",code="${code}"}`));
    return line === undefined ? 0 : Number(line.split(' ').pop());
  };

  it('refuses 32 KiB of metadata with RESOURCE_EXHAUSTED and ErrorInfo naming the limit', async () => {
    const s = await expectRpcError(
      call(gh.auth, 'getJwks', {}, { metadata: { 'x-padding': 'p'.repeat(32 * 1024) } }),
      status.RESOURCE_EXHAUSTED,
      'METADATA_TOO_LARGE',
    );
    assert.equal(s.errorInfo?.metadata.limit_bytes, '16384');
    assert.ok(Number(s.errorInfo?.metadata.size_bytes) > 32 * 1024);
    assert.match(s.message, /metadata is \d+ bytes, more than the 16384/);
  });

  it('refuses a 64 KiB authorization value before any handler or authentication runs', async () => {
    const { tokens } = await registerUser(gh);
    const unauthenticatedBefore = await rpcTotal('GetCurrentUser', status.UNAUTHENTICATED);
    await expectRpcError(
      call(gh.auth, 'getCurrentUser', {}, { token: 'a'.repeat(64 * 1024) }),
      status.RESOURCE_EXHAUSTED,
      'METADATA_TOO_LARGE',
    );
    assert.equal(await rpcTotal('GetCurrentUser', status.RESOURCE_EXHAUSTED), 1);
    assert.equal(
      await rpcTotal('GetCurrentUser', status.UNAUTHENTICATED),
      unauthenticatedBefore,
      'no authentication attempt was made',
    );
    // Below the limit everything works as before, with a few KiB of other metadata too.
    const me = await call(
      gh.auth,
      'getCurrentUser',
      {},
      { token: tokens.accessToken, metadata: { 'x-padding': 'p'.repeat(8 * 1024) } },
    );
    assert.ok(me.user?.id);
  });

  it('refuses bearer tokens longer than 8192 characters without decoding them', async () => {
    const s = await expectRpcError(
      call(gh.auth, 'getCurrentUser', {}, { token: 'e'.repeat(9000) }),
      status.UNAUTHENTICATED,
      'INVALID_ACCESS_TOKEN',
    );
    assert.match(s.message, /longer than 8192 characters/);
  });

  it('covers the health and reflection services too', async () => {
    const padding = 'p'.repeat(32 * 1024);
    const client = new Client(gh.target, credentials.createInsecure());
    const md = new Metadata();
    md.set('x-padding', padding);
    const healthCheck = new Promise<void>((resolve, reject) =>
      client.makeUnaryRequest(
        '/grpc.health.v1.Health/Check',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.alloc(0), // HealthCheckRequest { service: "" }
        md,
        (err) => (err ? reject(err) : resolve()),
      ),
    );
    try {
      await expectRpcError(healthCheck, status.RESOURCE_EXHAUSTED, 'METADATA_TOO_LARGE');
    } finally {
      client.close();
    }
    const r = await bufCurl(`http://${gh.target}`, [
      '--list-services',
      '--reflect-header',
      `x-padding: ${padding}`,
    ]);
    assert.notEqual(r.code, 0, 'reflection refuses the call');
    assert.match(r.stderr, /resource_exhausted|metadata/i);
    const ok = await bufCurl(`http://${gh.target}`, ['--list-services']);
    assert.equal(ok.code, 0, ok.stderr);
  });
});

describe('database timeouts', () => {
  let gh: Gatehouse;
  before(async () => {
    gh = await startGatehouse({ DATABASE_STATEMENT_TIMEOUT_MS: '300' });
  });
  after(() => gh.stop());

  it('answers UNAVAILABLE DATABASE_TIMEOUT with RetryInfo while the user row is locked elsewhere', async () => {
    const { user, email, password } = await registerUser(gh);
    // Login counts the attempt with an UPDATE of the user's row before checking the password
    // (beginPasswordAttempt), so a row lock held by another transaction makes it wait.
    const holder = await gh.db.pool.connect();
    try {
      await holder.query('BEGIN');
      const locked = await holder.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [user.id]);
      assert.equal(locked.rowCount, 1);
      const s = await expectRpcError(
        call(gh.auth, 'login', { identifier: email, password }),
        status.UNAVAILABLE,
        'DATABASE_TIMEOUT',
      );
      assert.ok((s.retryDelayMs ?? 0) > 0, 'RetryInfo says when to retry');
      assert.doesNotMatch(s.message, /statement|SQL|postgres/i, 'no internals in the message');
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    const ok = await call(gh.auth, 'login', { identifier: email, password });
    assert.ok(ok.tokens?.accessToken, 'the same login succeeds once the lock is gone');
  });
});

/** A raw HTTP/2 connection to the gRPC port, to send PING frames and see GOAWAY. */
async function rawHttp2(target: string) {
  const session = connect(`http://${target}`);
  const goaway = new Promise<{ code: number; data: string }>((resolve) =>
    session.once('goaway', (code, _lastStreamId, data) =>
      resolve({ code, data: data?.toString() ?? '' }),
    ),
  );
  let goawayReceived = false;
  void goaway.then(() => {
    goawayReceived = true;
  });
  session.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  const ping = () =>
    new Promise<boolean>((resolve) => {
      try {
        const sent = session.ping((err) => resolve(err === null));
        if (!sent) resolve(false);
      } catch {
        resolve(false); // the session is already closing
      }
    });
  return { session, goaway, ping, goawayReceived: () => goawayReceived };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ping policing', () => {
  it('sends GOAWAY ENHANCE_YOUR_CALM too_many_pings to a client pinging every 10 ms', async () => {
    const gh = await startGatehouse(); // GRPC_MIN_PING_INTERVAL_MS: the default 5 minutes
    const raw = await rawHttp2(gh.target);
    try {
      let sent = 0;
      // The first ping is free and DEFAULT_MAX_PING_STRIKES early ones are forgiven; the next
      // one closes the connection. A few more may leave before the GOAWAY arrives.
      const bound = DEFAULT_MAX_PING_STRIKES + 4;
      while (!raw.goawayReceived() && sent < bound) {
        sent++;
        if (!(await raw.ping())) break;
        await pause(10);
      }
      // Frames arrive in order: any ping answered after the GOAWAY was sent comes after it.
      assert.ok(raw.goawayReceived(), `no GOAWAY after ${sent} pings 10 ms apart`);
      const goaway = await raw.goaway;
      assert.equal(goaway.code, constants.NGHTTP2_ENHANCE_YOUR_CALM);
      assert.equal(goaway.data, 'too_many_pings');
      assert.ok(sent >= DEFAULT_MAX_PING_STRIKES + 2, `not before the strikes ran out (${sent})`);
      // The server stays up for everyone else.
      assert.match((await call(gh.auth, 'getJwks', {})).jwksJson, /"keys"/);
    } finally {
      raw.session.destroy();
      await gh.stop();
    }
  });

  it('keeps a connection that pings no more often than GRPC_MIN_PING_INTERVAL_MS', async () => {
    const minIntervalMs = 50;
    const gh = await startGatehouse({ GRPC_MIN_PING_INTERVAL_MS: String(minIntervalMs) });
    const raw = await rawHttp2(gh.target);
    try {
      // Each ping leaves only after the previous one was answered and twice the minimum has
      // passed, so the server never sees two closer together than the minimum.
      for (let i = 0; i < 8; i++) {
        assert.ok(await raw.ping(), `ping ${i + 1} was answered`);
        await pause(2 * minIntervalMs);
      }
      assert.equal(raw.goawayReceived(), false);
      assert.equal(raw.session.closed, false);
    } finally {
      raw.session.destroy();
      await gh.stop();
    }
  });
});
