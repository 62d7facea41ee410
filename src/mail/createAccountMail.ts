import { randomUUID } from 'node:crypto';
import type { MailConfig } from './mailConfig.ts';
import { type MailContext, type MailKind, type RenderedMail, renderMail } from './renderMail.ts';

/** A rendered message ready for the outbox, with its Message-ID fixed once. */
export interface ComposedMail extends RenderedMail {
  kind: MailKind;
  messageId: string;
}

/** What the account use cases need to send mail: lifetimes, templates, a nudge to the sender. */
export interface AccountMail {
  /** Lifetime of the token (and of its message) of this kind. */
  ttlSec(kind: MailKind): number;
  /** Renders the message that carries `token` (an invitation names its organisation). */
  compose(kind: MailKind, token: string, context?: MailContext): ComposedMail;
  /** Call after the outbox row is committed: the local sender sends now instead of at its next poll. */
  queued(): void;
}

/** The domain of the From address, for Message-IDs (`<uuid@domain>`). */
function messageIdDomain(from: string): string {
  const m = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from);
  return m?.[1] ?? 'gatehouse.invalid';
}

export function createAccountMail(config: MailConfig, queued: () => void = () => {}): AccountMail {
  const domain = messageIdDomain(config.from);
  const ttl: Record<MailKind, number> = {
    password_reset: config.passwordResetTtlSec,
    email_verification: config.emailVerificationTtlSec,
    invitation: config.invitationTtlSec,
  };
  return {
    ttlSec: (kind) => ttl[kind],
    compose(kind, token, context) {
      return {
        kind,
        messageId: `<${randomUUID()}@${domain}>`,
        ...renderMail(kind, config, { token, ttlSec: ttl[kind], ...(context ? { context } : {}) }),
      };
    },
    queued,
  };
}
