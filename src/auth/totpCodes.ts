import { generateSecret, generateURI, verify } from 'otplib';

/** RFC 6238 as authenticator apps do it: SHA-1, 6 digits, 30-second steps. */
const PERIOD_SEC = 30;
const DIGITS = 6;

/** A code is 6 digits, nothing else (checked before any lookup). */
export const TOTP_CODE = /^[0-9]{6}$/;

/** A new shared secret: 160 random bits, base32 (what the user types or scans). */
export function newTotpSecret(): string {
  return generateSecret({ length: 20 });
}

/** The otpauth:// URI authenticator apps import (a QR code encodes it). */
export function totpUri(issuer: string, account: string, secret: string): string {
  return generateURI({
    issuer,
    label: account,
    secret,
    algorithm: 'sha1',
    digits: DIGITS,
    period: PERIOD_SEC,
  });
}

/**
 * The time step a code matches, now or one step either side (clock drift), and only if it is
 * later than `afterStep` (the step of the last accepted code: a code is good at most once);
 * null when it matches none. The caller must still claim the step atomically (claimTotpStep).
 */
export async function matchTotpCode(
  secret: string,
  code: string,
  afterStep: number | null,
): Promise<number | null> {
  if (!TOTP_CODE.test(code)) return null;
  const result = await verify({
    secret,
    token: code,
    algorithm: 'sha1',
    digits: DIGITS,
    period: PERIOD_SEC,
    epochTolerance: PERIOD_SEC,
    ...(afterStep === null ? {} : { afterTimeStep: afterStep }),
  });
  return result.valid && 'timeStep' in result ? result.timeStep : null;
}
