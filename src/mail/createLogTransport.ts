import type { Logger } from '../log.ts';
import type { MailTransport } from './MailTransport.ts';

const LINK = /https?:\/\/[^\s<>"]+/g;

/** The RPC that takes the token of each kind of message. */
const USE_WITH: Record<string, string> = {
  password_reset: 'AuthService/ResetPassword',
  email_verification: 'AuthService/VerifyEmail',
  invitation: 'AuthService/AcceptInvitation',
};

/** The `token` query parameters of `links` (an account message carries one token). */
function tokensIn(links: string[]): string[] {
  const tokens = new Set<string>();
  for (const link of links) {
    try {
      const token = new URL(link).searchParams.get('token');
      if (token) tokens.add(token);
    } catch {
      // Not a URL after all: nothing to show.
    }
  }
  return [...tokens];
}

/**
 * The transport of MAIL_TRANSPORT=log: writes one log line per message instead of sending it.
 * Outside production the line carries the one-time token plainly (and the links), so a person
 * can call ResetPassword or VerifyEmail with it from a terminal; in production (chosen on
 * purpose) only the recipient and subject.
 */
export function createLogTransport(log: Logger, options: { logLinks: boolean }): MailTransport {
  return {
    name: 'log',
    async send(mail) {
      const summary = `mail not sent (MAIL_TRANSPORT=log): "${mail.subject}" to ${mail.to}`;
      const fields = {
        kind: mail.kind,
        to: mail.to,
        subject: mail.subject,
        messageId: mail.messageId,
      };
      if (!options.logLinks) {
        log.info({ mail: fields }, `${summary}; its token is withheld in production`);
        return;
      }
      const links = mail.text.match(LINK) ?? [];
      const tokens = tokensIn(links);
      const use = USE_WITH[mail.kind];
      const hint =
        tokens.length === 0
          ? ''
          : `; token ${tokens.join(', ')}${use === undefined ? '' : ` (call ${use} with it)`}`;
      // In the message text: a `token` field would be redacted (rightly, everywhere else).
      log.info({ mail: { ...fields, links } }, `${summary}${hint}`);
    },
    close() {},
  };
}
