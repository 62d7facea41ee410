import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  apiKeyDisplayPrefix,
  generateApiKeySecret,
  hashApiKeySecret,
  parseApiKeySecret,
} from './apiKeySecret.ts';

describe('API key secrets', () => {
  it('are ghk_ + 43 base62 characters + a 6-character checksum, and parse', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const s = generateApiKeySecret();
      assert.match(s, /^ghk_[0-9A-Za-z]{49}$/);
      assert.equal(parseApiKeySecret(s), true, s);
      seen.add(s);
    }
    assert.equal(seen.size, 200);
  });

  it('refuse any changed character, a wrong length, another prefix or alphabet', () => {
    const s = generateApiKeySecret();
    for (let i = 4; i < s.length; i++) {
      const c = s[i] === 'A' ? 'B' : 'A';
      assert.equal(parseApiKeySecret(s.slice(0, i) + c + s.slice(i + 1)), false, `position ${i}`);
    }
    for (const bad of [
      '',
      'ghk_',
      s.slice(0, -1),
      `${s}0`,
      `ghp_${s.slice(4)}`,
      `${s.slice(0, 10)}-${s.slice(11)}`,
    ]) {
      assert.equal(parseApiKeySecret(bad), false, bad);
    }
  });

  it('hash to SHA-256 (any format) and display only their first 8 characters', () => {
    const s = generateApiKeySecret();
    assert.equal(hashApiKeySecret(s).length, 32);
    assert.equal(hashApiKeySecret('sk_live_legacy').length, 32);
    assert.equal(apiKeyDisplayPrefix(s), s.slice(0, 8));
  });
});
