import { scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';

const scrypt = promisify(scryptCb) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

export interface Argon2Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export interface VerifyResult {
  ok: boolean;
  /** The stored hash is another algorithm or other parameters: store a fresh argon2id hash. */
  needsRehash: boolean;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** Verifies against argon2id/argon2i, bcrypt ($2a$/$2b$/$2y$) or scrypt PHC hashes. */
  verify(storedHash: string, password: string): Promise<VerifyResult>;
  /** Burns the same time as a real verify; used when the account does not exist. */
  dummyVerify(password: string): Promise<void>;
  /** The algorithm name of a stored hash ("argon2id", "bcrypt", ...), never the hash. */
  algorithmOf(storedHash: string): string;
  /** Whether a stored hash is in a format this hasher can verify. */
  isSupported(storedHash: string): boolean;
}

const BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;
const ARGON2 = /^\$argon2(id|i|d)\$/;
// $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt b64>$<hash b64> (passlib / PHC style)
const SCRYPT =
  /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/.]+={0,2})\$([A-Za-z0-9+/.]+={0,2})$/;

/** Passwords are hashed as NFKC so every Unicode form of the same password matches. */
const prepare = (password: string) => password.normalize('NFKC');

/** argon2id hashing with configurable parameters and verification of imported formats. */
export async function createPasswordHasher(
  params: Argon2Params,
  observe: (op: 'hash' | 'verify', seconds: number) => void = () => {},
): Promise<PasswordHasher> {
  const timed = async <T>(op: 'hash' | 'verify', work: Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await work;
    } finally {
      observe(op, (performance.now() - started) / 1000);
    }
  };
  const options = { type: argon2.argon2id, ...params } as const;
  const dummyHash = await argon2.hash('gatehouse-dummy-password', options);

  const verifyScrypt = async (stored: string, password: string): Promise<boolean> => {
    const m = SCRYPT.exec(stored);
    if (!m) return false;
    const [, ln, r, p, saltB64, hashB64] = m;
    const expected = Buffer.from(String(hashB64).replace(/\./g, '+'), 'base64');
    const N = 2 ** Number(ln);
    if (N > 2 ** 20 || expected.length < 16) return false;
    const actual = await scrypt(
      password,
      Buffer.from(String(saltB64).replace(/\./g, '+'), 'base64'),
      expected.length,
      {
        N,
        r: Number(r),
        p: Number(p),
        maxmem: 256 * N * Number(r) + 1024 * 1024,
      },
    );
    return timingSafeEqual(actual, expected);
  };

  const verifyAny = async (stored: string, password: string): Promise<VerifyResult> => {
    const pw = prepare(password);
    try {
      if (ARGON2.test(stored)) {
        const ok = await argon2.verify(stored, pw);
        return {
          ok,
          needsRehash:
            ok && (!stored.startsWith('$argon2id$') || argon2.needsRehash(stored, params)),
        };
      }
      if (BCRYPT.test(stored)) {
        const ok = await bcrypt.compare(pw, stored);
        return { ok, needsRehash: ok };
      }
      if (SCRYPT.test(stored)) {
        const ok = await verifyScrypt(stored, pw);
        return { ok, needsRehash: ok };
      }
    } catch {
      // A malformed stored hash makes argon2.verify throw: it simply does not match.
    }
    // Unknown format or malformed hash: spend the time of a real verification anyway.
    await argon2.verify(dummyHash, pw).catch(() => false);
    return { ok: false, needsRehash: false };
  };

  return {
    hash: (password) => timed('hash', argon2.hash(prepare(password), options)),
    verify: (stored, password) => timed('verify', verifyAny(stored, password)),
    async dummyVerify(password) {
      await timed(
        'verify',
        argon2.verify(dummyHash, prepare(password)).catch(() => false),
      );
    },
    algorithmOf(stored) {
      const argon = ARGON2.exec(stored);
      if (argon) return `argon2${argon[1]}`;
      if (BCRYPT.test(stored)) return 'bcrypt';
      if (SCRYPT.test(stored)) return 'scrypt';
      return 'unknown';
    },
    isSupported: (stored) => ARGON2.test(stored) || BCRYPT.test(stored) || SCRYPT.test(stored),
  };
}
