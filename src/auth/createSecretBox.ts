import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Seals small secrets (TOTP shared secrets) for storage with AES-256-GCM. Each sealed value is
 * iv (12 bytes) || ciphertext || tag (16 bytes) and is bound to its owner (the user id as
 * additional data), so a ciphertext copied to another row does not open.
 */
export interface SecretBox {
  /** Fingerprint of the key (stored beside each ciphertext), never the key itself. */
  readonly keyId: string;
  seal(plaintext: string, owner: string): Buffer;
  /** The plaintext, or null when the value was not sealed by this key for this owner. */
  open(sealed: Buffer, owner: string): string | null;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A box under a 32-byte key (MFA_ENCRYPTION_KEY). */
export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new Error('a secret box needs a 32-byte key');
  const keyId = createHash('sha256')
    .update('gatehouse-mfa-key-id\n')
    .update(key)
    .digest('base64url')
    .slice(0, 16);
  return {
    keyId,
    seal(plaintext, owner) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(owner, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return Buffer.concat([iv, body, cipher.getAuthTag()]);
    },
    open(sealed, owner) {
      if (sealed.length <= IV_BYTES + TAG_BYTES) return null;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
        decipher.setAAD(Buffer.from(owner, 'utf8'));
        decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
        const body = sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES);
        return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
      } catch {
        return null;
      }
    },
  };
}
