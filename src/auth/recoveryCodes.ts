import { createHash, randomBytes } from 'node:crypto';

/** How many codes a set has. */
export const RECOVERY_CODE_COUNT = 10;

// Crockford's base32 (no i, l, o, u), lower case: 12 symbols are 60 bits, shown xxxx-xxxx-xxxx.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const SYMBOLS = 12;

/** A new recovery code: 60 random bits, e.g. "k7m2-q9xd-4hfa". */
function newRecoveryCode(): string {
  const bytes = randomBytes(SYMBOLS);
  let text = '';
  for (const b of bytes) text += ALPHABET[b & 31];
  return `${text.slice(0, 4)}-${text.slice(4, 8)}-${text.slice(8)}`;
}

/** A new set of codes with the hashes to store. */
export function newRecoveryCodeSet(): { codes: string[]; hashes: Buffer[] } {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
  return { codes, hashes: codes.map(hashRecoveryCode) };
}

/**
 * The code as typed, without case, dashes and spaces, and with the letters people misread for
 * digits read as Crockford does (o as 0, i and l as 1); null when it cannot be a code.
 */
export function normalizeRecoveryCode(code: string): string | null {
  if (code.length > 64) return null;
  const bare = code.toLowerCase().replace(/[\s-]/g, '').replace(/o/g, '0').replace(/[il]/g, '1');
  return bare.length === SYMBOLS && [...bare].every((c) => ALPHABET.includes(c)) ? bare : null;
}

/** SHA-256 of the normalised code (60 random bits: a fast hash is enough). */
export function hashRecoveryCode(code: string): Buffer {
  return createHash('sha256')
    .update(normalizeRecoveryCode(code) ?? code)
    .digest();
}
