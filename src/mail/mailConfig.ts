import { z } from 'zod';
import { envBool } from '../envBool.ts';

const bool = envBool;
const int = (def: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(def);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
const linkBase = optionalString.refine(
  (v) => {
    if (v === undefined) return true;
    try {
      const u = new URL(v);
      return (u.protocol === 'https:' || u.protocol === 'http:') && u.hash === '';
    } catch {
      return false;
    }
  },
  { message: 'an absolute http(s) URL without a #fragment' },
);

/**
 * Link bases used outside production when PASSWORD_RESET_URL / EMAIL_VERIFICATION_URL are unset
 * (and anywhere when INVITATION_URL is: see mailEnvProblems).
 * `.invalid` can never resolve (RFC 2606): such a link visibly leads nowhere instead of
 * pretending a page is there. The token in it still works with ResetPassword / VerifyEmail.
 */
export const PLACEHOLDER_LINK_BASES = {
  PASSWORD_RESET_URL: 'http://set-password-reset-url.invalid/',
  EMAIL_VERIFICATION_URL: 'http://set-email-verification-url.invalid/',
  INVITATION_URL: 'http://set-invitation-url.invalid/',
} as const;

/**
 * Account mail and recovery: SMTP_*, MAIL_*, link bases, token lifetimes and
 * REQUIRE_VERIFIED_EMAIL, spread into the one schema of src/config.ts (which stays the only
 * reader of process.env). See docs/mail.md.
 */
export const mailEnvShape = {
  /** smtp://user:pass@host:port (STARTTLS when offered) or smtps:// (TLS from the first byte). */
  SMTP_URL: optionalString.refine(
    (v) => {
      if (v === undefined) return true;
      try {
        const u = new URL(v);
        return (u.protocol === 'smtp:' || u.protocol === 'smtps:') && u.hostname !== '';
      } catch {
        return false;
      }
    },
    { message: 'smtp://[user:pass@]host[:port] or smtps://[user:pass@]host[:port]' },
  ),
  SMTP_FROM: optionalString,
  SMTP_TLS_REJECT_UNAUTHORIZED: bool.default(true),
  SMTP_REQUIRE_TLS: bool.default(false),
  /** smtp (SMTP_URL) or log (messages are logged, not delivered); default: smtp iff SMTP_URL. */
  MAIL_TRANSPORT: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    z.enum(['smtp', 'log']).optional(),
  ),
  MAIL_PRODUCT_NAME: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .refine((v) => !/\p{Cc}/u.test(v), { message: 'no control characters' })
    .default('Gatehouse'),
  /** The page of your front end that calls ResetPassword; required in production with SMTP. */
  PASSWORD_RESET_URL: linkBase,
  /** The page of your front end that calls VerifyEmail; required in production with SMTP. */
  EMAIL_VERIFICATION_URL: linkBase,
  /**
   * The page of your front end that accepts an invitation (AcceptInvitation, or Register with
   * invitation_token). Not required, so a deployment that invites nobody starts as before; the
   * start warns while SMTP mail would carry the placeholder.
   */
  INVITATION_URL: linkBase,
  // Lower bounds of 1 s only keep tests fast; anything under a few minutes is unusable.
  PASSWORD_RESET_TTL_SEC: int(1800, 1, 86_400),
  EMAIL_VERIFICATION_TTL_SEC: int(86_400, 1, 30 * 86_400),
  /** Lifetime of an invitation and its link, in hours (a week by default, at most 30 days). */
  INVITATION_TTL_HOURS: int(168, 1, 720),
  REQUIRE_VERIFIED_EMAIL: bool.default(false),
  MAIL_POLL_INTERVAL_MS: int(1000, 10, 60_000),
  MAIL_BATCH_SIZE: int(10, 1, 100),
  MAIL_MAX_ATTEMPTS: int(8, 1, 100),
  MAIL_RETRY_BASE_MS: int(10_000, 10, 3_600_000),
  MAIL_RETRY_MAX_MS: int(900_000, 10, 86_400_000),
  MAIL_SEND_TIMEOUT_MS: int(30_000, 500, 600_000),
};

type MailEnv = z.infer<z.ZodObject<typeof mailEnvShape>> & { NODE_ENV: string };

export interface SmtpSettings {
  url: string;
  from: string;
  rejectUnauthorized: boolean;
  requireTls: boolean;
}

export interface OutboxSenderSettings {
  pollIntervalMs: number;
  batchSize: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** Bound of one delivery (connect, TLS, SMTP dialogue); the claim lease is twice this. */
  sendTimeoutMs: number;
}

export interface MailConfig {
  /** smtp: deliver through `smtp`; log: write to the log (links only outside production). */
  transport: 'smtp' | 'log';
  smtp: SmtpSettings | undefined;
  /** The From header (SMTP_FROM). */
  from: string;
  /** Whether the log transport may print tokens and links: never in production. */
  logLinks: boolean;
  /** Link-base variables left unset, so their links use PLACEHOLDER_LINK_BASES (development). */
  placeholderLinks: (keyof typeof PLACEHOLDER_LINK_BASES)[];
  productName: string;
  passwordResetUrl: string;
  emailVerificationUrl: string;
  invitationUrl: string;
  passwordResetTtlSec: number;
  emailVerificationTtlSec: number;
  /** INVITATION_TTL_HOURS in seconds. */
  invitationTtlSec: number;
  /** Login of an account whose email is not verified fails like a wrong password. */
  requireVerifiedEmail: boolean;
  sender: OutboxSenderSettings;
}

/**
 * Problems no single variable shows, one line each: production must either deliver mail
 * (SMTP_URL, SMTP_FROM, and the pages its links lead to) or say explicitly that it does not
 * (MAIL_TRANSPORT=log).
 */
export function mailEnvProblems(e: MailEnv): string[] {
  const problems: string[] = [];
  const transport = e.MAIL_TRANSPORT ?? (e.SMTP_URL === undefined ? 'log' : 'smtp');
  if (e.MAIL_TRANSPORT === 'smtp' && e.SMTP_URL === undefined) {
    problems.push('  SMTP_URL: required when MAIL_TRANSPORT=smtp');
  }
  if (e.NODE_ENV === 'production' && transport === 'smtp' && e.SMTP_FROM === undefined) {
    problems.push('  SMTP_FROM: required when NODE_ENV=production and mail is sent over SMTP');
  }
  if (e.NODE_ENV === 'production' && e.MAIL_TRANSPORT === undefined && e.SMTP_URL === undefined) {
    problems.push(
      '  SMTP_URL: required when NODE_ENV=production (password reset and email verification ' +
        'send mail); set MAIL_TRANSPORT=log to run without delivery on purpose',
    );
  }
  if (e.NODE_ENV === 'production' && transport === 'smtp') {
    // A link to nowhere would make every reset mail useless, and nobody would notice.
    const pages = [
      ['PASSWORD_RESET_URL', 'ResetPassword', 'https://app.example.com/reset-password'],
      ['EMAIL_VERIFICATION_URL', 'VerifyEmail', 'https://app.example.com/verify-email'],
    ] as const;
    for (const [name, rpc, example] of pages) {
      if (e[name] === undefined) {
        problems.push(
          `  ${name}: required when NODE_ENV=production and mail is sent: the page of your ` +
            `front end that reads ?token= and calls ${rpc}, e.g. ${example}`,
        );
      }
    }
  }
  if (e.MAIL_RETRY_BASE_MS > e.MAIL_RETRY_MAX_MS) {
    problems.push('  MAIL_RETRY_BASE_MS: must not exceed MAIL_RETRY_MAX_MS');
  }
  return problems;
}

export function toMailConfig(e: MailEnv): MailConfig {
  const transport = e.MAIL_TRANSPORT ?? (e.SMTP_URL === undefined ? 'log' : 'smtp');
  const from = e.SMTP_FROM ?? `${e.MAIL_PRODUCT_NAME} <no-reply@localhost>`;
  return {
    transport,
    smtp:
      transport === 'smtp' && e.SMTP_URL !== undefined
        ? {
            url: e.SMTP_URL,
            from,
            rejectUnauthorized: e.SMTP_TLS_REJECT_UNAUTHORIZED,
            requireTls: e.SMTP_REQUIRE_TLS,
          }
        : undefined,
    from,
    logLinks: e.NODE_ENV !== 'production',
    placeholderLinks: (
      ['PASSWORD_RESET_URL', 'EMAIL_VERIFICATION_URL', 'INVITATION_URL'] as const
    ).filter((name) => e[name] === undefined),
    productName: e.MAIL_PRODUCT_NAME,
    passwordResetUrl: e.PASSWORD_RESET_URL ?? PLACEHOLDER_LINK_BASES.PASSWORD_RESET_URL,
    emailVerificationUrl: e.EMAIL_VERIFICATION_URL ?? PLACEHOLDER_LINK_BASES.EMAIL_VERIFICATION_URL,
    invitationUrl: e.INVITATION_URL ?? PLACEHOLDER_LINK_BASES.INVITATION_URL,
    passwordResetTtlSec: e.PASSWORD_RESET_TTL_SEC,
    emailVerificationTtlSec: e.EMAIL_VERIFICATION_TTL_SEC,
    invitationTtlSec: e.INVITATION_TTL_HOURS * 3600,
    requireVerifiedEmail: e.REQUIRE_VERIFIED_EMAIL,
    sender: {
      pollIntervalMs: e.MAIL_POLL_INTERVAL_MS,
      batchSize: e.MAIL_BATCH_SIZE,
      maxAttempts: e.MAIL_MAX_ATTEMPTS,
      retryBaseMs: e.MAIL_RETRY_BASE_MS,
      retryMaxMs: e.MAIL_RETRY_MAX_MS,
      sendTimeoutMs: e.MAIL_SEND_TIMEOUT_MS,
    },
  };
}
