import { z } from 'zod';
import { int, list, optionalString } from './envFields.ts';

/**
 * Second factors: the key TOTP secrets are encrypted under, and the issuer authenticator apps
 * show. MFA_ENCRYPTION_KEY is 32 bytes in base64 (`openssl rand -base64 32`). Step-up: how
 * recent a session's authentication must be for the sensitive calls
 * (REAUTHENTICATION_WINDOW_SEC), and the roles whose holders must enrol a second factor
 * (MFA_REQUIRED_ROLES).
 */
export const mfaEnvShape = {
  MFA_ENCRYPTION_KEY: optionalString.superRefine((value, ctx) => {
    if (value === undefined) return;
    const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(value) ? Buffer.from(value, 'base64') : null;
    if (bytes === null || bytes.length !== 32) {
      ctx.addIssue({
        code: 'custom',
        message:
          'must be 32 bytes in base64 (44 characters); generate one with `openssl rand -base64 32`',
      });
    }
  }),
  MFA_TOTP_ISSUER: z
    .string()
    .default('Gatehouse')
    .transform((v) => v.trim())
    .refine((v) => v !== '' && v.length <= 64 && !v.includes(':'), {
      message: 'must be 1 to 64 characters without ":" (it is part of the otpauth:// label)',
    }),
  REAUTHENTICATION_WINDOW_SEC: int(600, 30, 86_400),
  MFA_REQUIRED_ROLES: list.pipe(
    z.array(
      z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, {
        message: 'must be role names (lower-case letters, digits, _ and -), comma-separated',
      }),
    ),
  ),
};

type MfaEnv = z.infer<z.ZodObject<typeof mfaEnvShape>>;

export interface MfaConfig {
  /** The configured AES-256 key; undefined when MFA_ENCRYPTION_KEY is unset. */
  encryptionKey: Buffer | undefined;
  /** The issuer in otpauth:// URIs (what authenticator apps show). */
  totpIssuer: string;
  /** How long after its authentication a session may make the sensitive calls, in seconds. */
  reauthenticationWindowSec: number;
  /** Holders of these roles must enrol a second factor before their sessions do anything else. */
  requiredRoles: readonly string[];
}

export function toMfaConfig(e: MfaEnv): MfaConfig {
  return {
    encryptionKey:
      e.MFA_ENCRYPTION_KEY === undefined ? undefined : Buffer.from(e.MFA_ENCRYPTION_KEY, 'base64'),
    totpIssuer: e.MFA_TOTP_ISSUER,
    reauthenticationWindowSec: e.REAUTHENTICATION_WINDOW_SEC,
    requiredRoles: [...new Set(e.MFA_REQUIRED_ROLES)],
  };
}
