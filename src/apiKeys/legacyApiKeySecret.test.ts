import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { apiKeyDisplayPrefix, generateApiKeySecret } from './apiKeySecret.ts';
import { classifyCredential, legacySecretProblem } from './legacyApiKeySecret.ts';

describe('legacy API key secrets', () => {
  it('are any bearer-token string of 16 to 512 characters that is neither ghk_ nor a JWT', () => {
    for (const s of [
      randomUUID(),
      'sk_live_example_not_a_real_key',
      'a'.repeat(16),
      'a'.repeat(512),
      '0123456789abcdef0123456789abcdef',
      'dGhpcyBpcyBhIGtleQ==',
      'one.dot~and+slash/too',
    ]) {
      assert.equal(legacySecretProblem(s), null, s);
      assert.equal(classifyCredential(s), 'legacy_api_key', s);
    }
  });

  it('refuse short, long, whitespace, foreign characters, JWT shapes and malformed ghk_', () => {
    const cases: [string, RegExp][] = [
      ['a'.repeat(15), /shorter than 16 characters/],
      ['a'.repeat(513), /longer than 512/],
      ['abcd efgh ijkl mnop', /whitespace/],
      ['abcdefghijklmnop\t', /whitespace/],
      ['key:abcdefghijklmnop', /bearer credential cannot carry/],
      ['abcdefgh=ijklmnop', /bearer credential cannot carry/],
      ['aaaaaaaa.bbbbbbbb.cccccccc', /JWT/],
      ['eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', /JWT/],
      [`ghk_${'A'.repeat(49)}`, /ghk_/],
    ];
    for (const [s, why] of cases) {
      assert.match(legacySecretProblem(s) ?? '', why, s);
      assert.notEqual(classifyCredential(s), 'legacy_api_key', s);
    }
  });

  it('classify credentials by shape: ghk_ keys, legacy keys, everything else a token', () => {
    assert.equal(classifyCredential(generateApiKeySecret()), 'api_key');
    assert.equal(classifyCredential(`ghk_${'A'.repeat(49)}`), 'api_key', 'refused by checksum');
    assert.equal(classifyCredential('aaaa.bbbb.cccc'), 'access_token');
    assert.equal(classifyCredential('garbage'), 'access_token');
    assert.equal(legacySecretProblem(generateApiKeySecret()), null, 'a ghk_ key imports as is');
  });

  it('show at most 8 characters and never more than a quarter of the secret', () => {
    assert.equal(apiKeyDisplayPrefix('a'.repeat(16)), 'aaaa');
    assert.equal(apiKeyDisplayPrefix('0123456789abcdefghij'), '01234');
    assert.equal(apiKeyDisplayPrefix(randomUUID()).length, 8);
  });
});
