import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../config.ts';
import { PLACEHOLDER_LINK_BASES } from './mailConfig.ts';

const production = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://x@127.0.0.1/x',
  REDIS_URL: 'redis://127.0.0.1:6379',
  SMTP_URL: 'smtp://relay.example:587',
  SMTP_FROM: 'Acme <no-reply@acme.example>',
  PASSWORD_RESET_URL: 'https://app.acme.example/reset-password',
  EMAIL_VERIFICATION_URL: 'https://app.acme.example/verify-email',
};

const configError = (env: Record<string, string>): string => {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message;
  }
  assert.fail('expected an invalid configuration');
};

describe('mail link bases', () => {
  it('are required in production when mail is sent, each named', () => {
    for (const name of ['PASSWORD_RESET_URL', 'EMAIL_VERIFICATION_URL'] as const) {
      const { [name]: _, ...rest } = production;
      assert.match(configError(rest), new RegExp(`${name}: required when NODE_ENV=production`));
      // An empty value (docker-compose's `${VAR:-}`) is the same as unset.
      assert.match(configError({ ...rest, [name]: '' }), new RegExp(name));
    }
    const { PASSWORD_RESET_URL: _a, EMAIL_VERIFICATION_URL: _b, ...neither } = production;
    const message = configError(neither);
    assert.match(message, /PASSWORD_RESET_URL/);
    assert.match(message, /EMAIL_VERIFICATION_URL/, 'every missing variable at once');
    const ok = loadConfig(production);
    assert.equal(ok.mail.passwordResetUrl, production.PASSWORD_RESET_URL);
    // Not required, so a production that invites nobody starts as before (with a warning).
    assert.deepEqual(ok.mail.placeholderLinks, ['INVITATION_URL']);
    assert.equal(ok.mail.invitationTtlSec, 168 * 3600, 'INVITATION_TTL_HOURS defaults to a week');
    const all = loadConfig({ ...production, INVITATION_URL: 'https://app.acme.example/join' });
    assert.deepEqual(all.mail.placeholderLinks, []);
    assert.equal(all.mail.invitationUrl, 'https://app.acme.example/join');
    assert.equal(
      loadConfig({ ...production, INVITATION_TTL_HOURS: '24' }).mail.invitationTtlSec,
      86_400,
    );
    assert.match(configError({ ...production, INVITATION_TTL_HOURS: '0' }), /INVITATION_TTL_HOURS/);
    assert.match(configError({ ...production, INVITATION_URL: 'ftp://x' }), /INVITATION_URL/);
  });

  it('are not required when production sends no mail on purpose (MAIL_TRANSPORT=log)', () => {
    const {
      PASSWORD_RESET_URL: _a,
      EMAIL_VERIFICATION_URL: _b,
      SMTP_URL: _c,
      ...rest
    } = production;
    const config = loadConfig({ ...rest, MAIL_TRANSPORT: 'log' });
    assert.equal(config.mail.transport, 'log');
    assert.equal(config.mail.logLinks, false);
  });

  it('default outside production to hosts that cannot exist, not to a page that is not there', () => {
    const config = loadConfig({});
    assert.equal(config.mail.passwordResetUrl, PLACEHOLDER_LINK_BASES.PASSWORD_RESET_URL);
    assert.equal(config.mail.emailVerificationUrl, PLACEHOLDER_LINK_BASES.EMAIL_VERIFICATION_URL);
    for (const base of Object.values(PLACEHOLDER_LINK_BASES)) {
      assert.match(new URL(base).hostname, /\.invalid$/, 'RFC 2606: never resolves');
    }
    assert.deepEqual(config.mail.placeholderLinks, [
      'PASSWORD_RESET_URL',
      'EMAIL_VERIFICATION_URL',
      'INVITATION_URL',
    ]);
    assert.equal(config.mail.logLinks, true);
  });
});
