import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createPasswordHasher, type PasswordHasher } from '../auth/createPasswordHasher.ts';
import { checkImportedHash } from './checkImportedHash.ts';

const SALT = 'c2FsdHNhbHRzYWx0c2FsdA';
const HASH = 'aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';
const BCRYPT_TAIL = 'BsASt0nP9FZRcTr8gSTQjOBVsaZ.PbJeiYoOHSwE2OdMhxi0nXlmi';

describe('checkImportedHash', () => {
  let hasher: PasswordHasher;
  before(async () => {
    hasher = await createPasswordHasher({ memoryCost: 19_456, timeCost: 2, parallelism: 1 });
  });

  it('accepts argon2id, argon2i, bcrypt and scrypt within the cost ceilings', () => {
    for (const hash of [
      `$argon2id$v=19$m=65536,t=3,p=4$${SALT}$${HASH}`,
      `$argon2i$v=19$m=4096,p=1,t=3$${SALT}$${HASH}`,
      `$2a$10$${BCRYPT_TAIL}`,
      `$2b$04$${BCRYPT_TAIL}`,
      `$2y$14$${BCRYPT_TAIL}`,
      `$scrypt$ln=16,r=8,p=1$${SALT}$${HASH}`,
    ]) {
      assert.equal(checkImportedHash(hasher, hash), null, hash);
    }
  });

  it('refuses other algorithms, malformed strings and costs that would hurt logins', () => {
    for (const hash of [
      'plain-text',
      '5f4dcc3b5aa765d61d8327deb882cf99',
      `$argon2d$v=19$m=4096,t=3,p=1$${SALT}$${HASH}`,
      `$argon2id$v=19$m=4194304,t=3,p=1$${SALT}$${HASH}`,
      `$argon2id$v=19$m=65536,t=100,p=1$${SALT}$${HASH}`,
      `$argon2id$v=19$garbage$${SALT}$${HASH}`,
      `$2b$15$${BCRYPT_TAIL}`,
      `$2x$10$${BCRYPT_TAIL}`,
      `$scrypt$ln=20,r=8,p=1$${SALT}$${HASH}`,
      `pbkdf2_sha256$600000$salt$hash`,
      `$2b$10$${BCRYPT_TAIL}${'x'.repeat(600)}`,
    ]) {
      assert.notEqual(checkImportedHash(hasher, hash), null, hash);
    }
  });
});
