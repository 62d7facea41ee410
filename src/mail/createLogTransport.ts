import type { Logger } from '../log.ts';
import type { MailTransport } from './MailTransport.ts';

const LINK = /https?:\/\/[^\s<>"]+/g;

/**
 * The development transport: "delivers" a message by logging it. Outside production the log
 * line carries the message's links (they hold one-time tokens) so a developer can follow them;
 * in production (MAIL_TRANSPORT=log chosen on purpose) only the recipient and subject.
 */
export function createLogTransport(log: Logger, options: { logLinks: boolean }): MailTransport {
  return {
    name: 'log',
    async send(mail) {
      log.info(
        {
          mail: {
            kind: mail.kind,
            to: mail.to,
            subject: mail.subject,
            messageId: mail.messageId,
            ...(options.logLinks ? { links: mail.text.match(LINK) ?? [] } : {}),
          },
        },
        options.logLinks
          ? `mail not sent (log transport): ${mail.subject} -> ${mail.to}`
          : 'mail not sent (MAIL_TRANSPORT=log): links withheld in production',
      );
    },
    close() {},
  };
}
