import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createSecretBox } from './createSecretBox.ts';

describe('createSecretBox', () => {
  const box = createSecretBox(randomBytes(32));

  it('opens what it sealed, for the same owner only', () => {
    const sealed = box.seal('JBSWY3DPEHPK3PXP', 'user-a');
    assert.equal(sealed.includes(Buffer.from('JBSWY3DPEHPK3PXP')), false);
    assert.equal(box.open(sealed, 'user-a'), 'JBSWY3DPEHPK3PXP');
    assert.equal(box.open(sealed, 'user-b'), null);
  });

  it('refuses a tampered value and another key', () => {
    const sealed = box.seal('secret', 'u');
    const tampered = Buffer.from(sealed);
    tampered[14] = (tampered[14] ?? 0) ^ 1;
    assert.equal(box.open(tampered, 'u'), null);
    const other = createSecretBox(randomBytes(32));
    assert.notEqual(other.keyId, box.keyId);
    assert.equal(other.open(sealed, 'u'), null);
  });

  it('seals the same text differently each time (a fresh iv)', () => {
    assert.notDeepEqual(box.seal('x', 'u'), box.seal('x', 'u'));
  });
});
