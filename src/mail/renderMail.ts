/** What an account message is for; also the outbox row's `kind` and a metrics label. */
export type MailKind = 'password_reset' | 'email_verification' | 'invitation';

/** What a message says besides its link: an invitation names the organisation that invites. */
export interface MailContext {
  /** The inviting organisation's display name (its slug when it has none). */
  organizationName?: string;
}

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

export interface TemplateSettings {
  productName: string;
  passwordResetUrl: string;
  emailVerificationUrl: string;
  invitationUrl: string;
}

/** `base` with `token=<token>` added to its query (existing parameters kept, all URL-encoded). */
export function linkWithToken(base: string, token: string): string {
  const url = new URL(base);
  url.searchParams.set('token', token);
  return url.toString();
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/** "30 minutes", "1 hour", "2 days": how long a link works, for people. */
export function describeLifetime(seconds: number): string {
  const unit = (n: number, name: string) => `${n} ${name}${n === 1 ? '' : 's'}`;
  if (seconds % 86_400 === 0) return unit(seconds / 86_400, 'day');
  if (seconds % 3600 === 0) return unit(seconds / 3600, 'hour');
  if (seconds >= 60) return unit(Math.round(seconds / 60), 'minute');
  return unit(seconds, 'second');
}

interface Template {
  subject: (product: string, context: MailContext) => string;
  /** Paragraphs before the link; the last one introduces it. */
  intro: (product: string, lifetime: string, context: MailContext) => string[];
  button: string;
  outro: string;
  base: (s: TemplateSettings) => string;
}

const TEMPLATES: Record<MailKind, Template> = {
  password_reset: {
    subject: (product) => `Reset your ${product} password`,
    intro: (product, lifetime) => [
      `Someone asked to reset the password of your ${product} account.`,
      `To choose a new password, open this link within ${lifetime}. It works once.`,
    ],
    button: 'Choose a new password',
    outro:
      'If you did not ask for this, ignore this message: your password stays as it is, and ' +
      'nobody can change it without the link.',
    base: (s) => s.passwordResetUrl,
  },
  email_verification: {
    subject: (product) => `Verify your email address for ${product}`,
    intro: (product, lifetime) => [
      `Please confirm that this address belongs to your ${product} account.`,
      `Open this link within ${lifetime} to verify it. It works once.`,
    ],
    button: 'Verify my email address',
    outro: 'If you did not create an account, ignore this message.',
    base: (s) => s.emailVerificationUrl,
  },
  invitation: {
    subject: (product, c) => `${c.organizationName ?? 'An organisation'} invites you to ${product}`,
    intro: (product, lifetime, c) => [
      `${c.organizationName ?? 'An organisation'} invites you to join it on ${product}.`,
      `To accept, open this link within ${lifetime} and sign in or create an account with ` +
        'this email address. It works once.',
    ],
    button: 'Accept the invitation',
    outro:
      'If you do not know this organisation or do not want to join it, ignore this message: ' +
      'nothing happens without the link.',
    base: (s) => s.invitationUrl,
  },
};

/**
 * The plain-text and HTML versions of an account message carrying `token` as a link. Everything
 * interpolated into the HTML is escaped; the link is built with the URL API.
 */
export function renderMail(
  kind: MailKind,
  settings: TemplateSettings,
  input: { token: string; ttlSec: number; context?: MailContext },
): RenderedMail {
  const t = TEMPLATES[kind];
  const product = settings.productName;
  const context = input.context ?? {};
  const subject = t.subject(product, context);
  const link = linkWithToken(t.base(settings), input.token);
  const intro = t.intro(product, describeLifetime(input.ttlSec), context);
  const text = [...intro.slice(0, -1), `${intro.at(-1)}\n${link}`, t.outro, `-- ${product}`]
    .join('\n\n')
    .concat('\n');
  const e = escapeHtml;
  const html = [
    '<!doctype html>',
    `<html><head><meta charset="utf-8"><title>${e(subject)}</title></head>`,
    '<body style="font-family: sans-serif; line-height: 1.5; color: #222;">',
    ...intro.map((p) => `<p>${e(p)}</p>`),
    `<p><a href="${e(link)}" style="display: inline-block; padding: 10px 16px; background: #1a56db; color: #fff; text-decoration: none; border-radius: 4px;">${e(t.button)}</a></p>`,
    `<p style="font-size: 13px; color: #555;">Or copy this address into your browser:<br>${e(link)}</p>`,
    `<p>${e(t.outro)}</p>`,
    `<p>&mdash; ${e(product)}</p>`,
    '</body></html>',
    '',
  ].join('\n');
  return { subject, text, html };
}
