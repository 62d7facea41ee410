import type { PasswordHasher } from '../auth/createPasswordHasher.ts';

// Ceilings on the cost parameters of imported hashes: a login verifies them at these costs
// until the hash is upgraded, so a hostile or absurd import must not make one login burn
// gigabytes of memory or seconds of CPU.
const MAX_ARGON2_MEMORY_KIB = 256 * 1024;
const MAX_ARGON2_TIME = 16;
const MAX_ARGON2_PARALLELISM = 16;
const BCRYPT_COST = { min: 4, max: 14 };
const MAX_SCRYPT_MEMORY_BYTES = 256 * 1024 * 1024;
const MAX_HASH_LENGTH = 512;

const ARGON2_PHC =
  /^\$argon2(id|i)\$(?:v=(?:16|19)\$)?([a-z]=\d{1,10}(?:,[a-z]+=[^,$]{1,64})*)\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}$/;
const BCRYPT_COST_OF = /^\$2[aby]\$(\d{2})\$/;
const SCRYPT_PARAMS = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$/;

/**
 * Why an imported password hash cannot be accepted, or null when it can: argon2id / argon2i
 * PHC strings, bcrypt $2a$/$2b$/$2y$ and PHC scrypt, in a form the hasher verifies, with cost
 * parameters below the ceilings above. argon2d and anything else is refused.
 */
export function checkImportedHash(hasher: PasswordHasher, hash: string): string | null {
  if (hash.length > MAX_HASH_LENGTH || !hasher.isSupported(hash)) {
    return 'not a supported hash: argon2id/argon2i PHC, bcrypt ($2a$, $2b$, $2y$) or PHC scrypt';
  }
  const algorithm = hasher.algorithmOf(hash);
  if (algorithm === 'argon2id' || algorithm === 'argon2i') {
    const m = ARGON2_PHC.exec(hash);
    const params = new Map(
      (m?.[2] ?? '').split(',').map((kv) => kv.split('=') as [string, string]),
    );
    const memory = Number(params.get('m'));
    const time = Number(params.get('t'));
    const lanes = Number(params.get('p'));
    if (!m || !(memory >= 8) || !(time >= 1) || !(lanes >= 1)) {
      return 'malformed argon2 PHC string';
    }
    if (
      memory > MAX_ARGON2_MEMORY_KIB ||
      time > MAX_ARGON2_TIME ||
      lanes > MAX_ARGON2_PARALLELISM
    ) {
      return `argon2 cost above the import limit (m <= ${MAX_ARGON2_MEMORY_KIB}, t <= ${MAX_ARGON2_TIME}, p <= ${MAX_ARGON2_PARALLELISM})`;
    }
    return null;
  }
  if (algorithm === 'bcrypt') {
    const cost = Number(BCRYPT_COST_OF.exec(hash)?.[1]);
    if (!(cost >= BCRYPT_COST.min && cost <= BCRYPT_COST.max)) {
      return `bcrypt cost must be ${BCRYPT_COST.min}-${BCRYPT_COST.max}`;
    }
    return null;
  }
  if (algorithm === 'scrypt') {
    const [, ln, r, p] = SCRYPT_PARAMS.exec(hash) ?? [];
    const N = 2 ** Number(ln);
    if (!(Number(ln) >= 1 && Number(r) >= 1 && Number(p) >= 1)) return 'malformed scrypt string';
    if (128 * N * Number(r) > MAX_SCRYPT_MEMORY_BYTES || N > 2 ** 20 || Number(p) > 16) {
      return 'scrypt cost above the import limit (128 * N * r <= 256 MiB, N <= 2^20, p <= 16)';
    }
    return null;
  }
  return `${algorithm} hashes cannot be imported`;
}
