import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../config.ts';

const base = { DATABASE_URL: 'postgres://localhost/gatehouse', NODE_ENV: 'test' };

/** The problem lines of an environment that must not load. */
function problems(env: Record<string, string>): string {
  try {
    loadConfig({ ...base, ...env });
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems.join('\n');
  }
  assert.fail('the configuration loaded');
}

describe('EXT_AUTHZ_* settings', () => {
  it('default to authorization then x-api-key, x-gatehouse-* identity headers, credential kept', () => {
    const c = loadConfig(base).extAuthz;
    assert.deepEqual(c.credentialHeaders, ['authorization', 'x-api-key']);
    assert.equal(c.removeCredential, false);
    assert.equal(c.stripHeaderPrefix, 'x-gatehouse-');
    assert.deepEqual(c.identityHeaders, {
      userId: 'x-gatehouse-user-id',
      serviceAccountId: 'x-gatehouse-service-account-id',
      apiKeyId: 'x-gatehouse-api-key-id',
      sessionId: 'x-gatehouse-session-id',
      roles: 'x-gatehouse-roles',
      organizationId: 'x-gatehouse-organization-id',
      principalType: 'x-gatehouse-principal-type',
    });
  });

  it('take header names in any case, as Envoy compares them', () => {
    const c = loadConfig({
      ...base,
      EXT_AUTHZ_CREDENTIAL_HEADERS: 'X-Api-Key, Authorization',
      EXT_AUTHZ_ROLES_HEADER: 'X-Roles',
      EXT_AUTHZ_STRIP_HEADER_PREFIX: '',
      EXT_AUTHZ_REMOVE_CREDENTIAL: 'yes',
    }).extAuthz;
    assert.deepEqual(c.credentialHeaders, ['x-api-key', 'authorization']);
    assert.equal(c.identityHeaders.roles, 'x-roles');
    assert.equal(c.stripHeaderPrefix, '');
    assert.equal(c.removeCredential, true);
  });

  it('refuse names that are no header, that Envoy will not set, or that say two things', () => {
    assert.match(
      problems({ EXT_AUTHZ_USER_ID_HEADER: 'x user' }),
      /^EXT_AUTHZ_USER_ID_HEADER="x user": "x user" is not a header name/m,
    );
    assert.match(
      problems({ EXT_AUTHZ_ROLES_HEADER: 'host' }),
      /^EXT_AUTHZ_ROLES_HEADER="host": .*Envoy does not let/m,
    );
    assert.match(
      problems({ EXT_AUTHZ_CREDENTIAL_HEADERS: 'authorization,:path' }),
      /^EXT_AUTHZ_CREDENTIAL_HEADERS=.*":path" is not a header name/m,
    );
    assert.match(
      problems({ EXT_AUTHZ_ROLES_HEADER: 'x-gatehouse-user-id' }),
      /^EXT_AUTHZ_ROLES_HEADER: "x-gatehouse-user-id" is also EXT_AUTHZ_USER_ID_HEADER/m,
    );
    assert.match(
      problems({ EXT_AUTHZ_USER_ID_HEADER: 'x-api-key' }),
      /^EXT_AUTHZ_USER_ID_HEADER: "x-api-key" is one of EXT_AUTHZ_CREDENTIAL_HEADERS/m,
    );
    assert.match(
      problems({ EXT_AUTHZ_STRIP_HEADER_PREFIX: 'x_' }),
      /^EXT_AUTHZ_STRIP_HEADER_PREFIX="x_": must be empty or a header name prefix/m,
    );
  });
});
