import nodemailer from 'nodemailer';
import type { MailTransport } from './MailTransport.ts';
import type { SmtpSettings } from './mailConfig.ts';

/**
 * Delivery through an SMTP relay with nodemailer, one connection per message (mail volume is
 * low; no pooled connection can go stale). smtps:// speaks TLS from the first byte; smtp://
 * upgrades with STARTTLS when the relay offers it, and insists on it with SMTP_REQUIRE_TLS.
 * Certificates are verified unless SMTP_TLS_REJECT_UNAUTHORIZED=false. Each send is bounded by
 * `timeoutMs` (connect, greeting, every socket read) and by the caller's abort signal.
 */
export function createSmtpTransport(settings: SmtpSettings, timeoutMs: number): MailTransport {
  const url = new URL(settings.url);
  const secure = url.protocol === 'smtps:';
  const transporter = nodemailer.createTransport({
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? (secure ? 465 : 587) : Number(url.port),
    secure,
    requireTLS: settings.requireTls,
    ...(url.username === ''
      ? {}
      : {
          auth: {
            user: decodeURIComponent(url.username),
            pass: decodeURIComponent(url.password),
          },
        }),
    tls: { rejectUnauthorized: settings.rejectUnauthorized, minVersion: 'TLSv1.2' },
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    // Messages carry only our own text and HTML: never let content make nodemailer read files
    // or fetch URLs.
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  return {
    name: 'smtp',
    async send(mail, signal) {
      await transporter.sendMail({
        from: settings.from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId: mail.messageId,
        signal,
      });
    },
    close() {
      transporter.close();
    },
  };
}
