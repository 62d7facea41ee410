import { createHmac } from 'node:crypto';

/*
 * An implementation of RFC 6238 TOTP independent of the server's (which uses otplib): HMAC-SHA1
 * of the big-endian 8-byte time-step counter, dynamic truncation (RFC 4226 section 5.3).
 */

/** The RFC 4226/6238 code of `counter` under `key`, `digits` long. */
export function hotp(key: Buffer, counter: number, digits: number): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(message).digest();
  const offset = (mac[mac.length - 1] ?? 0) & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

/** The 30-second time step of a Unix time in seconds. */
export function timeStep(unixSec: number): number {
  return Math.floor(unixSec / 30);
}

/** The current time step of this machine's clock (the server's too: they share it). */
export function currentStep(): number {
  return timeStep(Date.now() / 1000);
}

/** RFC 4648 base32 (no padding), as the server hands secrets out. */
export function base32Decode(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const c of text.replace(/=+$/, '').toUpperCase()) {
    const index = alphabet.indexOf(c);
    if (index < 0) throw new Error(`not base32: ${c}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The server's 6-digit code for `step` of a base32 secret. */
export function totpCode(secret: string, step: number): string {
  return hotp(base32Decode(secret), step, 6);
}

/**
 * Runs `attempt` with the current step until the step did not change while it ran (a boundary
 * crossed mid-call makes "this step" ambiguous); the clock is never waited on, only re-read.
 */
export async function atStableStep<T>(attempt: (step: number) => Promise<T>): Promise<T> {
  for (let tries = 0; ; tries++) {
    const step = currentStep();
    const result = await attempt(step);
    if (currentStep() === step || tries >= 3) return result;
  }
}

/** A promise's outcome as a value, so a retried attempt can be judged after it settles. */
export async function settle<T>(
  promise: Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}
