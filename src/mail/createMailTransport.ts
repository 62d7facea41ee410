import type { Logger } from '../log.ts';
import { createLogTransport } from './createLogTransport.ts';
import { createSmtpTransport } from './createSmtpTransport.ts';
import type { MailTransport } from './MailTransport.ts';
import { type MailConfig, PLACEHOLDER_LINK_BASES } from './mailConfig.ts';

/** The transport the configuration asks for (SMTP when SMTP_URL is set, else the log). */
export function createMailTransport(config: MailConfig, log: Logger): MailTransport {
  if (config.placeholderLinks.length > 0 && config.transport === 'smtp') {
    log.warn(
      { placeholders: config.placeholderLinks.map((name) => PLACEHOLDER_LINK_BASES[name]) },
      `${config.placeholderLinks.join(', ')} not set: links in account mail lead nowhere ` +
        '(their token still works with ResetPassword / VerifyEmail / AcceptInvitation); set ' +
        'them to the pages of your front end (required in production, but for INVITATION_URL)',
    );
  }
  if (config.transport === 'smtp' && config.smtp !== undefined) {
    return createSmtpTransport(config.smtp, config.sender.sendTimeoutMs);
  }
  if (config.logLinks) {
    log.warn(
      'SMTP_URL is not set: account mail (password reset, email verification) is not sent; ' +
        'each message is one log line "mail not sent" with its token (development only)',
    );
  } else {
    log.warn('MAIL_TRANSPORT=log: account mail is not delivered (tokens are not logged)');
  }
  return createLogTransport(log.child({ component: 'mail' }), { logLinks: config.logLinks });
}
