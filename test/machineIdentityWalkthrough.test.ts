import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { credentials } from '@grpc/grpc-js';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { AuthServiceClient } from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import { migrate } from '../src/storage/migrate.ts';
import { bufCurl } from './helpers/bufCurl.ts';
import { eventually } from './helpers/eventually.ts';
import { runScript } from './helpers/runCli.ts';
import { type SpawnedGatehouse, spawnGatehouse } from './helpers/spawnGatehouse.ts';
import { call } from './helpers/startGatehouse.ts';
import { createTestDatabase, redisUrl, type TestDatabase } from './helpers/testDatabase.ts';

/**
 * The README's worked example "API keys, for resource servers", step by step through the same
 * interfaces a newcomer uses: the admin CLI (its own process), `buf curl` against a Gatehouse
 * process, and jose against the JWKS on the HTTP port. This is the "done when": a
 * service account created from the CLI calls Gatehouse and a resource server with its key,
 * trades it for a JWT, and loses access within a second of being disabled.
 */
describe('worked example: a service account from the CLI to its loss of access', () => {
  let db: TestDatabase;
  let gh: SpawnedGatehouse;
  let auth: AuthServiceClient;
  /**
   * The CLI exactly as the README runs it, `scripts/run admin ...` (so its stdout is what
   * `KEY=$(...)` captures), needing only the database (here DATABASE_URL).
   */
  const admin = (...args: string[]) =>
    runScript(['admin', ...args], { NODE_ENV: 'production', DATABASE_URL: db.url });
  /** `rpc [args] $AUTH/<method>` of the README: buf curl, knowing only what reflection says. */
  const rpc = (service: string, method: string, args: string[]) =>
    bufCurl(`http://127.0.0.1:${gh.grpcPort}/gatehouse.${service}/${method}`, args);
  const validateWithBufCurl = async (credential: string) => {
    const res = await rpc('auth.v1.AuthService', 'ValidateToken', [
      '--emit-defaults',
      '-d',
      JSON.stringify({ accessToken: credential }),
    ]);
    assert.equal(res.code, 0, res.stderr);
    return JSON.parse(res.stdout) as Record<string, unknown>;
  };

  before(async () => {
    db = await createTestDatabase();
    await migrate(db.url);
    gh = await spawnGatehouse({
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: `ghtest:walkthrough:${randomUUID().slice(0, 8)}:`,
      LOG_LEVEL: 'info',
    });
    auth = new AuthServiceClient(`127.0.0.1:${gh.grpcPort}`, credentials.createInsecure());
  });
  after(async () => {
    auth?.close();
    gh?.process.kill('SIGTERM');
    await gh?.exited;
    await db?.drop();
  });

  it('create with the CLI, validate, exchange, verify locally, call Gatehouse, disable: dead within 1 s', async () => {
    // 1. KEY=$(scripts/run admin service-account create --name report-bot --role reader --role admin)
    const created = await admin(
      'service-account',
      'create',
      '--name',
      'report-bot',
      '--role',
      'reader',
      '--role',
      'admin',
    );
    assert.equal(created.code, 0, created.stderr);
    const key = created.stdout.trim();
    assert.match(key, /^ghk_[0-9A-Za-z]{49}$/, 'stdout is the secret alone');

    // 2. A resource server asks Gatehouse: rpc --emit-defaults -d '{"accessToken":"$KEY"}' $AUTH/ValidateToken
    const validated = await validateWithBufCurl(key);
    assert.equal(validated.active, true);
    assert.equal(validated.principalType, 'PRINCIPAL_TYPE_SERVICE_ACCOUNT');
    assert.deepEqual(validated.roles, ['admin', 'reader']);
    assert.equal(validated.userId, '');
    const serviceAccountId = String(validated.serviceAccountId);
    const apiKeyId = String(validated.apiKeyId);
    assert.match(serviceAccountId, /^[0-9a-f-]{36}$/);
    assert.match(apiKeyId, /^[0-9a-f-]{36}$/);

    // 3. The client-credentials grant: rpc -H "authorization: Bearer $KEY" -d '{}' $AUTH/ExchangeApiKey
    const exchanged = await rpc('auth.v1.AuthService', 'ExchangeApiKey', [
      '-H',
      `authorization: Bearer ${key}`,
      '-d',
      '{}',
    ]);
    assert.equal(exchanged.code, 0, exchanged.stderr);
    const { accessToken: jwt, tokenType } = JSON.parse(exchanged.stdout) as {
      accessToken: string;
      tokenType: string;
    };
    assert.equal(tokenType, 'Bearer');

    // 4. A resource server verifies it locally with jose and the JWKS on the HTTP port.
    const jwks = createRemoteJWKSet(
      new URL(`http://127.0.0.1:${gh.httpPort}/.well-known/jwks.json`),
    );
    const verify = () =>
      jwtVerify(jwt, jwks, {
        algorithms: ['RS256', 'ES256'],
        issuer: 'gatehouse',
        audience: 'gatehouse',
        typ: 'at+jwt',
      });
    const { payload } = await verify();
    assert.equal(payload.principal_type, 'service_account');
    assert.equal(payload.sub, serviceAccountId);
    assert.equal(payload.api_key_id, apiKeyId);
    assert.deepEqual(payload.roles, ['admin', 'reader']);
    assert.equal(payload.sid, undefined);

    // 5. The key calls Gatehouse itself (it holds admin):
    //    rpc -H "authorization: Bearer $KEY" -d '{"serviceAccountId":"$SA_ID"}' $SA_ADMIN/GetServiceAccount
    const self = await rpc('admin.v1.ServiceAccountAdminService', 'GetServiceAccount', [
      '-H',
      `authorization: Bearer ${key}`,
      '-d',
      JSON.stringify({ serviceAccountId }),
    ]);
    assert.equal(self.code, 0, self.stderr);
    const account = (JSON.parse(self.stdout) as { serviceAccount: Record<string, unknown> })
      .serviceAccount;
    assert.equal(account.name, 'report-bot');
    assert.equal(account.status, 'SERVICE_ACCOUNT_STATUS_ACTIVE');

    // 6. scripts/run admin service-account disable --name report-bot
    const disabled = await admin('service-account', 'disable', '--name', 'report-bot');
    assert.equal(disabled.code, 0, disabled.stderr);
    assert.equal(disabled.stdout, `disabled service account report-bot (id ${serviceAccountId})\n`);

    // Lost within a second of the command's return: the key, the JWT minted from it (at
    // Gatehouse) and its calls to Gatehouse. The wait's limit is the requirement. grpc-js
    // probes here, since starting buf curl alone can take a good part of a second on a
    // loaded machine; buf curl then shows the same answer below.
    const gone = await eventually(
      async () => {
        const [byKey, byJwt] = await Promise.all([
          call(auth, 'validateToken', { accessToken: key }),
          call(auth, 'validateToken', { accessToken: jwt }),
        ]);
        return { key: byKey.active, jwt: byJwt.active };
      },
      (v) => !v.key && !v.jwt,
      { timeoutMs: 1000, intervalMs: 10, what: 'the disabled account losing access' },
    );
    assert.deepEqual(gone, { key: false, jwt: false });

    // 7. rpc --emit-defaults -d '{"accessToken":"$KEY"}' $AUTH/ValidateToken  ->  "active": false
    const dead = await validateWithBufCurl(key);
    assert.equal(dead.active, false);
    assert.equal(dead.principalType, 'PRINCIPAL_TYPE_UNSPECIFIED');
    assert.equal(dead.serviceAccountId, '');
    const refused = await rpc('admin.v1.ServiceAccountAdminService', 'GetServiceAccount', [
      '-H',
      `authorization: Bearer ${key}`,
      '-d',
      JSON.stringify({ serviceAccountId }),
    ]);
    assert.equal(refused.code, 16 * 8, 'UNAUTHENTICATED (buf curl exits with the code x 8)');
    const noNewToken = await rpc('auth.v1.AuthService', 'ExchangeApiKey', [
      '-H',
      `authorization: Bearer ${key}`,
      '-d',
      '{}',
    ]);
    assert.equal(noNewToken.code, 16 * 8, 'no new token for a disabled account');
    // As documented: a verifier that checks only the signature accepts the JWT until it expires.
    assert.equal((await verify()).payload.sub, serviceAccountId);

    // 8. scripts/run admin service-account enable --name report-bot  ->  the key works again.
    const enabled = await admin('service-account', 'enable', '--name', 'report-bot');
    assert.equal(enabled.code, 0, enabled.stderr);
    assert.equal(enabled.stdout, `enabled service account report-bot (id ${serviceAccountId})\n`);
    await eventually(
      () => call(auth, 'validateToken', { accessToken: key }),
      (v) => v.active,
      { what: 'the enabled account working again' },
    );
    assert.equal((await validateWithBufCurl(key)).active, true);
    assert.ok(!JSON.stringify(gh.logs).includes(key), 'no secret in the server log');
  });

  it('the CLI disable and enable are audited, idempotent, and refuse unknown names', async () => {
    const created = await admin('service-account', 'create', '--name', 'audited-bot');
    assert.equal(created.code, 0, created.stderr);
    const [row] = await db.query<{ id: string }>(
      `SELECT id FROM service_accounts WHERE name = 'audited-bot'`,
    );
    const id = row?.id ?? '';

    for (const [command, line] of [
      ['disable', `disabled service account audited-bot (id ${id})`],
      ['disable', `service account audited-bot (id ${id}) was already disabled`],
      ['enable', `enabled service account audited-bot (id ${id})`],
      ['enable', `service account audited-bot (id ${id}) was already enabled`],
    ] as const) {
      const run = await admin('service-account', command, '--name', 'audited-bot');
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, `${line}\n`);
    }
    const audit = await db.query<{ action: string; outcome: string; details: object }>(
      `SELECT action, outcome, details FROM audit_events
       WHERE action IN ('service_account_disable', 'service_account_enable')
         AND details->>'service_account_id' = $1
       ORDER BY id`,
      [id],
    );
    // One success row per run, in the order run, each with the status it found.
    const expected = (action: string, previous: string) => ({
      action: `service_account_${action}`,
      outcome: 'success',
      details: {
        source: 'cli',
        service_account_id: id,
        name: 'audited-bot',
        previous_status: previous,
      },
    });
    assert.deepEqual(audit, [
      expected('disable', 'active'),
      expected('disable', 'disabled'),
      expected('enable', 'disabled'),
      expected('enable', 'active'),
    ]);
    const [state] = await db.query<{ status: string }>(
      `SELECT status FROM service_accounts WHERE id = $1`,
      [id],
    );
    assert.equal(state?.status, 'active');

    const unknown = await admin('service-account', 'disable', '--name', 'no-such-bot');
    assert.equal(unknown.code, 65, unknown.stderr);
    assert.match(unknown.stderr, /no such service account/);
    const badName = await admin('service-account', 'disable', '--name', 'Not A Name');
    assert.equal(badName.code, 65, badName.stderr);
    assert.match(badName.stderr, /name: lowercase letters/);
    for (const args of [
      ['service-account', 'disable'],
      ['service-account', 'enable', '--name', 'audited-bot', '--role', 'admin'],
      ['service-account', 'revoke', '--name', 'audited-bot'],
    ]) {
      const usage = await admin(...args);
      assert.equal(usage.code, 64, `${args.join(' ')}: ${usage.stderr}`);
      assert.equal(usage.stdout, '');
    }
  });
});
