import { z } from 'zod';
import { list, optionalString } from './envFields.ts';

/**
 * Passkeys (WebAuthn): the relying party id (the registrable domain passkeys are bound to), the
 * name authenticators show, and the origins whose pages may use them. An origin entry ending in
 * `:*` allows any port of that scheme and host (e.g. `http://localhost:*`).
 */
export const webauthnEnvShape = {
  WEBAUTHN_RP_ID: optionalString.refine(
    (v) => v === undefined || /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(v),
    { message: 'must be a host name in lower case, without scheme or port (e.g. example.com)' },
  ),
  WEBAUTHN_RP_NAME: z
    .string()
    .default('Gatehouse')
    .transform((v) => v.trim())
    .refine((v) => v !== '' && v.length <= 64, { message: 'must be 1 to 64 characters' }),
  WEBAUTHN_ORIGINS: list.refine(
    (origins) => origins.every((o) => /^https?:\/\/[a-z0-9.-]+(:(\d{1,5}|\*))?$/.test(o)),
    {
      message:
        'must be a comma-separated list of origins (scheme://host[:port], port "*" for any), e.g. https://app.example.com',
    },
  ),
};

type WebauthnEnv = z.infer<z.ZodObject<typeof webauthnEnvShape>> & { NODE_ENV: string };

export interface WebauthnConfig {
  /** Null when passkeys are not configured (production without WEBAUTHN_RP_ID/ORIGINS). */
  rpId: string | null;
  rpName: string;
  /** Allowed origins; an entry ending in `:*` matches any port. */
  origins: readonly string[];
}

/** Outside production, passkeys work on localhost on any port unless configured otherwise. */
export function toWebauthnConfig(e: WebauthnEnv): WebauthnConfig {
  const production = e.NODE_ENV === 'production';
  const rpId = e.WEBAUTHN_RP_ID ?? (production ? null : 'localhost');
  const origins =
    e.WEBAUTHN_ORIGINS.length > 0
      ? e.WEBAUTHN_ORIGINS
      : production
        ? []
        : ['http://localhost:*', 'https://localhost:*'];
  return {
    rpId: origins.length === 0 ? null : rpId,
    rpName: e.WEBAUTHN_RP_NAME,
    origins,
  };
}

/** Whether `origin` (from the client data) is one of `allowed`. */
export function isAllowedOrigin(allowed: readonly string[], origin: string): boolean {
  return allowed.some((entry) => {
    if (!entry.endsWith(':*')) return entry === origin;
    const base = entry.slice(0, -2);
    return origin === base || new RegExp(`^${escapeRegExp(base)}:\\d{1,5}$`).test(origin);
  });
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
