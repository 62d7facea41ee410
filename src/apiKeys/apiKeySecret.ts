import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * The API key format: `ghk_` + base62 of 32 random bytes (43 characters, 256 bits) + a 6-character
 * base62 CRC32 of everything before it (GitHub's token format). The fixed prefix lets secret
 * scanners find leaked keys; the checksum lets clients and this server refuse a mistyped or
 * made-up key without a database read.
 */
export const API_KEY_PREFIX = 'ghk_';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BODY_LENGTH = 43; // ceil(256 / log2(62))
const CHECKSUM_LENGTH = 6; // 62^6 > 2^32
const SECRET = new RegExp(`^${API_KEY_PREFIX}[0-9A-Za-z]{${BODY_LENGTH + CHECKSUM_LENGTH}}$`);
const DISPLAY_PREFIX_LENGTH = 8;

/** `value` in base62, left-padded with '0' to `width` characters. */
function base62(value: bigint, width: number): string {
  let out = '';
  let rest = value;
  while (rest > 0n) {
    out = ALPHABET[Number(rest % 62n)] + out;
    rest /= 62n;
  }
  return out.padStart(width, '0');
}

function checksum(text: string): string {
  return base62(BigInt(crc32(text)), CHECKSUM_LENGTH);
}

/** A new random key secret in the `ghk_` format. */
export function generateApiKeySecret(): string {
  const body = base62(BigInt(`0x${randomBytes(32).toString('hex')}`), BODY_LENGTH);
  return `${API_KEY_PREFIX}${body}${checksum(API_KEY_PREFIX + body)}`;
}

/** Whether `s` looks like a Gatehouse API key at all (the prefix), well-formed or not. */
export function isApiKeyLike(s: string): boolean {
  return s.startsWith(API_KEY_PREFIX);
}

/**
 * Whether `s` is a well-formed `ghk_` key: right length and alphabet, checksum matches. No I/O:
 * a key that fails here is refused before any lookup.
 */
export function parseApiKeySecret(s: string): boolean {
  if (!SECRET.test(s)) return false;
  const head = s.slice(0, s.length - CHECKSUM_LENGTH);
  return checksum(head) === s.slice(-CHECKSUM_LENGTH);
}

/**
 * SHA-256 of a secret: what is stored and looked up. The secret carries 256 random bits, so a
 * fast hash suffices (no argon2 on the hot path); imported legacy secrets of any format are
 * hashed the same way.
 */
export function hashApiKeySecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/**
 * The first characters of a secret, kept for display ("ghk_3fA9"): never enough to use it. At
 * most 8, and never more than a quarter of the secret, so a short imported legacy key (16
 * characters: 4 shown) keeps three quarters of it unknown.
 */
export function apiKeyDisplayPrefix(secret: string): string {
  return secret.slice(0, Math.min(DISPLAY_PREFIX_LENGTH, Math.floor(secret.length / 4)));
}
