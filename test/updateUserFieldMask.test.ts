import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { status } from '@grpc/grpc-js';
import { User } from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import { expectRpcError } from './helpers/rpcError.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { registerUser } from './helpers/users.ts';

const run = promisify(execFile);
const BUF = new URL('../node_modules/.bin/buf', import.meta.url).pathname;

/** `buf curl` with a bearer token and a JSON body, as the README shows it. */
async function bufCurl(url: string, token: string, body: unknown) {
  try {
    const { stdout, stderr } = await run(
      BUF,
      [
        'curl',
        '--protocol',
        'grpc',
        '--http2-prior-knowledge',
        '-H',
        `authorization: Bearer ${token}`,
        '-d',
        JSON.stringify(body),
        url,
      ],
      { timeout: 30_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/**
 * The text of buf curl's printed google.rpc.BadRequest: base64 when reflection does not serve
 * error_details.proto, decoded under `debug` when it does; either way the description is there.
 */
function badRequestText(stderr: string): string {
  const error = JSON.parse(stderr) as {
    details?: { type: string; value?: string; debug?: unknown }[];
  };
  const detail = error.details?.find((d) => d.type === 'google.rpc.BadRequest');
  assert.ok(detail, `buf curl shows a BadRequest: ${stderr}`);
  return `${Buffer.from(detail.value ?? '', 'base64').toString('utf8')} ${JSON.stringify(detail.debug ?? '')}`;
}

describe('UpdateUser field masks from a terminal (JSON) and from stubs', () => {
  let gh: Gatehouse;
  let token: string;
  let url: string;
  before(async () => {
    gh = await startGatehouse();
    const admin = await registerUser(gh);
    await gh.db.query(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [admin.user.id]);
    token = admin.tokens.accessToken;
    url = `http://${gh.target}/gatehouse.admin.v1.UserAdminService/UpdateUser`;
  });
  after(async () => {
    await gh.stop();
  });

  it('takes camelCase paths in JSON, as the README shows', async () => {
    const target = await registerUser(gh);
    const res = await bufCurl(url, token, {
      user: { id: target.user.id, displayName: 'Ada Lovelace', emailVerified: true },
      updateMask: 'displayName,emailVerified',
    });
    assert.equal(res.code, 0, res.stderr);
    const user = (JSON.parse(res.stdout) as { user: { user: Record<string, unknown> } }).user.user;
    assert.equal(user.displayName, 'Ada Lovelace');
    assert.equal(user.emailVerified, true);
  });

  it('a snake_case path in JSON is refused by the client itself (it never reaches us)', async () => {
    const target = await registerUser(gh);
    const res = await bufCurl(url, token, {
      user: { id: target.user.id, displayName: 'x' },
      updateMask: 'display_name',
    });
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /FieldMask\.paths contains invalid path: "display_name"/);
  });

  it('a path that is almost right says which field, and that JSON paths are camelCase', async () => {
    const target = await registerUser(gh);
    const res = await bufCurl(url, token, {
      user: { id: target.user.id, displayName: 'x' },
      updateMask: 'displayname',
    });
    assert.equal(res.code, status.INVALID_ARGUMENT * 8, res.stderr);
    const text = badRequestText(res.stderr);
    assert.match(text, /unknown path "displayname": did you mean display_name\?/);
    assert.match(text, /field mask paths in JSON are camelCase \("updateMask": "displayName"\)/i);

    // A stub that put the JSON spelling into the binary message gets the same help.
    const stub = await expectRpcError(
      call(
        gh.admin,
        'updateUser',
        { user: User.fromPartial({ id: target.user.id }), updateMask: ['emailVerified'] },
        { token },
      ),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    const [violation] = stub.fieldViolations ?? [];
    assert.equal(violation?.field, 'update_mask');
    assert.match(violation?.description ?? '', /did you mean email_verified\?/);
    assert.match(violation?.description ?? '', /"updateMask": "emailVerified"/);
  });

  it('an unknown path lists the allowed ones and how JSON spells them', async () => {
    const target = await registerUser(gh);
    const res = await bufCurl(url, token, {
      user: { id: target.user.id, displayName: 'x' },
      updateMask: 'passwordHash',
    });
    assert.equal(res.code, status.INVALID_ARGUMENT * 8, res.stderr);
    const text = badRequestText(res.stderr);
    assert.match(
      text,
      /unknown or read-only path "password_hash"; allowed: display_name, username/,
    );
    assert.match(text, /field mask paths in JSON are camelCase, e\.g\. "updateMask": "displayName/);
  });
});
