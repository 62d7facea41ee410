import type { Logger } from '../log.ts';
import { createLogTransport } from './createLogTransport.ts';
import { createSmtpTransport } from './createSmtpTransport.ts';
import type { MailTransport } from './MailTransport.ts';
import type { MailConfig } from './mailConfig.ts';

/** The transport the configuration asks for (SMTP when SMTP_URL is set, else the log). */
export function createMailTransport(config: MailConfig, log: Logger): MailTransport {
  if (config.transport === 'smtp' && config.smtp !== undefined) {
    return createSmtpTransport(config.smtp, config.sender.sendTimeoutMs);
  }
  if (config.logLinks) {
    log.warn(
      'SMTP_URL is not set: account mail (password reset, email verification) is written to the ' +
        'log with its links instead of being sent (development only)',
    );
  } else {
    log.warn('MAIL_TRANSPORT=log: account mail is not delivered (links are not logged)');
  }
  return createLogTransport(log.child({ component: 'mail' }), { logLinks: config.logLinks });
}
