import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createFileRegistry, fromBinary, toJson } from '@bufbuild/protobuf';
import { type FileDescriptorProto, FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { Client, credentials, Metadata, status } from '@grpc/grpc-js';
import { ConfigError, loadConfig } from '../src/config.ts';
import { AuthServiceClient } from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import { BUF, bufCurl } from './helpers/bufCurl.ts';
import { expectRpcError } from './helpers/rpcError.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';

const run = promisify(execFile);

type Reflect = (request: Record<string, string>) => Promise<FileDescriptorProto[]>;

/**
 * Runs `fn` with a reflection client of the server at `target` (grpc.reflection.v1 through buf
 * curl, as grpcurl asks): the files it answers with, decoded.
 */
async function withReflection(target: string, fn: (reflect: Reflect) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-reflection-'));
  try {
    const image = join(dir, 'reflection.binpb');
    const proto = fileURLToPath(
      new URL('../node_modules/@grpc/reflection/build/proto', import.meta.url),
    );
    await run(BUF, [
      'build',
      proto,
      '--path',
      join(proto, 'grpc/reflection/v1/reflection.proto'),
      '-o',
      image,
    ]);
    await fn(async (request) => {
      const r = await bufCurl(
        `http://${target}/grpc.reflection.v1.ServerReflection/ServerReflectionInfo`,
        ['--schema', image, '-d', JSON.stringify(request)],
      );
      assert.equal(r.code, 0, r.stderr);
      const answer = JSON.parse(r.stdout) as {
        fileDescriptorResponse?: { fileDescriptorProto: string[] };
        errorResponse?: { errorMessage: string };
      };
      assert.ok(
        answer.fileDescriptorResponse,
        `reflection answers ${JSON.stringify(request)}: ${answer.errorResponse?.errorMessage}`,
      );
      return answer.fileDescriptorResponse.fileDescriptorProto.map((b64) =>
        fromBinary(FileDescriptorProtoSchema, Buffer.from(b64, 'base64')),
      );
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('foundation', () => {
  let gh: Gatehouse;
  before(async () => {
    gh = await startGatehouse();
  });
  after(async () => {
    await gh.stop();
  });

  it('reports SERVING through grpc.health.v1 for the server and each service', async () => {
    for (const service of [
      '',
      'gatehouse.auth.v1.AuthService',
      'gatehouse.auth.v1.ApiKeyService',
      'gatehouse.admin.v1.ServiceAccountAdminService',
      'gatehouse.admin.v1.OrganizationAdminService',
      'gatehouse.authz.v1.AuthorizationService',
      'gatehouse.admin.v1.WebhookAdminService',
      'envoy.service.auth.v3.Authorization',
      'gatehouse.postgres',
      'gatehouse.redis',
    ]) {
      const r = await bufCurl(`http://${gh.target}/grpc.health.v1.Health/Check`, [
        '-d',
        JSON.stringify({ service }),
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).status, 'SERVING', service);
    }
  });

  it('lists every service and method through reflection', async () => {
    const services = await bufCurl(`http://${gh.target}`, ['--list-services']);
    assert.equal(services.code, 0, services.stderr);
    assert.deepEqual(services.stdout.trim().split('\n').sort(), [
      'envoy.service.auth.v3.Authorization',
      'gatehouse.admin.v1.OrganizationAdminService',
      'gatehouse.admin.v1.ServiceAccountAdminService',
      'gatehouse.admin.v1.UserAdminService',
      'gatehouse.admin.v1.WebhookAdminService',
      'gatehouse.auth.v1.ApiKeyService',
      'gatehouse.auth.v1.AuthService',
      'gatehouse.authz.v1.AuthorizationService',
      'grpc.health.v1.Health',
    ]);
    const methods = await bufCurl(`http://${gh.target}`, ['--list-methods']);
    assert.match(methods.stdout, /^gatehouse\.auth\.v1\.AuthService\/Login$/m);
    assert.match(methods.stdout, /^gatehouse\.auth\.v1\.AuthService\/SwitchOrganization$/m);
    assert.match(methods.stdout, /^gatehouse\.auth\.v1\.AuthService\/ListMyOrganizations$/m);
    assert.match(methods.stdout, /^gatehouse\.auth\.v1\.AuthService\/AcceptInvitation$/m);
    for (const m of [
      'CompleteMfaLogin',
      'StartTotpEnrollment',
      'ConfirmTotpEnrollment',
      'DisableTotp',
      'RegenerateRecoveryCodes',
      'ListAuthFactors',
      'Reauthenticate',
      'StartReauthenticationPasskey',
      'StartPasskeyRegistration',
      'FinishPasskeyRegistration',
      'ListPasskeys',
      'RenamePasskey',
      'DeletePasskey',
      'StartPasskeyLogin',
      'FinishPasskeyLogin',
      'StartMfaPasskey',
    ]) {
      assert.match(methods.stdout, new RegExp(`^gatehouse\\.auth\\.v1\\.AuthService/${m}$`, 'm'));
    }
    assert.match(methods.stdout, /^gatehouse\.admin\.v1\.UserAdminService\/ImportUsers$/m);
    assert.match(
      methods.stdout,
      /^gatehouse\.admin\.v1\.ServiceAccountAdminService\/CreateServiceAccountKey$/m,
    );
    assert.match(methods.stdout, /^gatehouse\.auth\.v1\.ApiKeyService\/RotateApiKey$/m);
    assert.match(methods.stdout, /^gatehouse\.admin\.v1\.OrganizationAdminService\/AddMember$/m);
    assert.match(methods.stdout, /^gatehouse\.authz\.v1\.AuthorizationService\/CheckPermission$/m);
    assert.match(methods.stdout, /^gatehouse\.admin\.v1\.UserAdminService\/RevokeUserApiKey$/m);
    assert.match(methods.stdout, /^gatehouse\.admin\.v1\.UserAdminService\/ResetUserMfa$/m);
  });

  it('calls a method knowing only what reflection serves', async () => {
    const r = await bufCurl(`http://${gh.target}/gatehouse.auth.v1.AuthService/ValidateToken`, [
      '-d',
      '{"access_token":"not-a-token"}',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {});
    const jwks = await bufCurl(`http://${gh.target}/gatehouse.auth.v1.AuthService/GetJwks`, [
      '-d',
      '{}',
    ]);
    const keys = JSON.parse(JSON.parse(jwks.stdout).jwksJson).keys;
    assert.equal(keys.length, 1);
    assert.equal(keys[0].alg, 'RS256');
    assert.equal(keys[0].d, undefined, 'no private members in the JWKS');
  });

  it('returns INVALID_ARGUMENT with ErrorInfo and BadRequest field violations', async () => {
    const s = await expectRpcError(
      call(gh.auth, 'register', { email: 'not an email', password: 'x' }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    const fields = (s.fieldViolations ?? []).map((v) => v.field).sort();
    assert.deepEqual(fields, ['email', 'password']);
    // The status message alone tells a person what to fix, field by field.
    assert.equal(s.message, 'email: not a valid email address. password: at least 8 characters');
  });

  it('sends error details a client can decode from what reflection serves (buf curl)', async () => {
    const r = await bufCurl(`http://${gh.target}/gatehouse.auth.v1.AuthService/Register`, [
      '-d',
      JSON.stringify({ email: 'ada@example.com', password: 'password123' }),
    ]);
    assert.equal(r.code, status.INVALID_ARGUMENT * 8, r.stderr);
    const error = JSON.parse(r.stderr) as {
      code: string;
      message: string;
      details: { type: string; value: string }[];
    };
    assert.equal(error.code, 'invalid_argument');
    assert.equal(error.message, 'password: this password is too common; choose another');

    // buf curl prints details it has no compiled-in type for as base64; a client that resolves
    // them through reflection (grpcurl, or this) gets each type's descriptor from the server.
    await withReflection(gh.target, async (reflect) => {
      const decoded: Record<string, unknown> = {};
      for (const detail of error.details) {
        const [declaring, ...rest] = await reflect({ fileContainingSymbol: detail.type });
        assert.ok(declaring, `reflection has a file declaring ${detail.type}`);
        const files = new Map(rest.map((f) => [f.name, f]));
        for (let missing = [...declaring.dependency]; missing.length > 0; ) {
          const name = missing.pop() ?? '';
          if (files.has(name)) continue;
          for (const f of await reflect({ fileByFilename: name })) {
            files.set(f.name, f);
            missing.push(...f.dependency);
          }
        }
        const registry = createFileRegistry(declaring, (name) => files.get(name));
        const schema = registry.getMessage(detail.type);
        assert.ok(schema, `${detail.type} is in the served files`);
        decoded[detail.type] = toJson(
          schema,
          fromBinary(schema, Buffer.from(detail.value, 'base64')),
        );
      }
      assert.deepEqual(decoded['google.rpc.ErrorInfo'], {
        reason: 'VALIDATION_FAILED',
        domain: 'gatehouse',
      });
      assert.deepEqual(decoded['google.rpc.BadRequest'], {
        fieldViolations: [
          {
            field: 'password',
            description: 'this password is too common; choose another',
            reason: 'COMMON_PASSWORD',
          },
        ],
      });
    });
  });

  it('serves the comments of its protos through reflection (what grpcurl describe prints)', async () => {
    await withReflection(gh.target, async (reflect) => {
      const [file] = await reflect({ fileContainingSymbol: 'gatehouse.auth.v1.AuthService' });
      assert.equal(file?.name, 'gatehouse/auth/v1/auth_service.proto');
      const comments = (file?.sourceCodeInfo?.location ?? []).map((l) => l.leadingComments);
      assert.ok(
        comments.some((c) => c.includes('Self-service authentication for end users')),
        'the service comment is served',
      );
      assert.ok(comments.length > 100, `${comments.length} commented locations`);
    });
  });

  it('answers UNIMPLEMENTED for a method the server does not have', async () => {
    const client = new Client(gh.target, credentials.createInsecure());
    const error = await new Promise<{ code: number } | null>((resolve) => {
      client.makeUnaryRequest(
        '/gatehouse.auth.v1.AuthService/DoesNotExist',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.alloc(0),
        (err) => resolve(err),
      );
    });
    client.close();
    assert.equal(error?.code, status.UNIMPLEMENTED);
  });

  it('refuses oversized messages at the transport', async () => {
    await assert.rejects(
      call(gh.auth, 'validateToken', { accessToken: 'x'.repeat(200 * 1024) }),
      (err: { code: number }) => err.code === status.RESOURCE_EXHAUSTED,
    );
  });

  it('echoes x-request-id and serves JWKS, readiness and metrics over HTTP', async () => {
    const base = `http://127.0.0.1:${gh.app.httpPort}`;
    const jwks = await fetch(`${base}/.well-known/jwks.json`);
    assert.equal(jwks.status, 200);
    assert.match(jwks.headers.get('cache-control') ?? '', /max-age=\d+/);
    const etag = jwks.headers.get('etag') ?? '';
    assert.equal(
      (await fetch(`${base}/.well-known/jwks.json`, { headers: { 'if-none-match': etag } })).status,
      304,
    );
    const ready = await fetch(`${base}/readyz`);
    assert.deepEqual(await ready.json(), {
      ready: true,
      dependencies: { postgres: true, redis: true },
    });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /gatehouse_rpc_total\{method="ValidateToken",code="0"\}/);

    const client = new AuthServiceClient(gh.target, credentials.createInsecure());
    const requestId = await new Promise<string>((resolve, reject) => {
      const c = client.getJwks({}, new Metadata(), () => {});
      c.on('metadata', (md: Metadata) => resolve(String(md.get('x-request-id')[0])));
      c.on('error', reject);
    });
    client.close();
    assert.match(requestId, /^[0-9a-f-]{36}$/);
  });
});

describe('configuration', () => {
  it('fails fast naming the variable', () => {
    assert.throws(
      () => loadConfig({ GRPC_PORT: 'nope' }),
      (e: Error) => e instanceof ConfigError && /GRPC_PORT/.test(e.message),
    );
    assert.throws(
      () => loadConfig({ NODE_ENV: 'production' }),
      (e: Error) =>
        e instanceof ConfigError && /DATABASE_URL/.test(e.message) && /REDIS_URL/.test(e.message),
    );
    assert.throws(() => loadConfig({ ARGON2_MEMORY_KIB: '1024' }), /ARGON2_MEMORY_KIB/);
  });
});
