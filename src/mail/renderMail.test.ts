import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeLifetime, escapeHtml, linkWithToken, renderMail } from './renderMail.ts';

const settings = {
  productName: '<Acme & "Co">',
  passwordResetUrl: 'https://app.example.com/reset?lang=en',
  emailVerificationUrl: 'https://app.example.com/verify',
  invitationUrl: 'https://app.example.com/join',
};

describe('renderMail', () => {
  it('builds the link with the URL API, keeping the base query and encoding the token', () => {
    assert.equal(
      linkWithToken('https://app.example.com/reset?lang=en', 'ghpr_a-b_c'),
      'https://app.example.com/reset?lang=en&token=ghpr_a-b_c',
    );
    assert.equal(
      linkWithToken('https://app.example.com/reset', 'a+b/c=&d'),
      'https://app.example.com/reset?token=a%2Bb%2Fc%3D%26d',
    );
  });

  it('renders text and HTML with the product name, the link and the lifetime', () => {
    const m = renderMail('password_reset', settings, { token: 'ghpr_tok', ttlSec: 1800 });
    assert.equal(m.subject, 'Reset your <Acme & "Co"> password');
    assert.match(m.text, /https:\/\/app\.example\.com\/reset\?lang=en&token=ghpr_tok/);
    assert.match(m.text, /within 30 minutes/);
    assert.ok(m.html.includes('&lt;Acme &amp; &quot;Co&quot;&gt;'), 'the product name is escaped');
    assert.ok(!m.html.includes('<Acme'), 'nothing interpolated is left unescaped');
    assert.ok(m.html.includes('href="https://app.example.com/reset?lang=en&amp;token=ghpr_tok"'));
    const v = renderMail('email_verification', settings, { token: 'ghev_tok', ttlSec: 86_400 });
    assert.equal(v.subject, 'Verify your email address for <Acme & "Co">');
    assert.match(v.text, /https:\/\/app\.example\.com\/verify\?token=ghev_tok/);
    assert.match(v.text, /within 1 day/);
  });

  it('names the inviting organisation in an invitation, escaped in the HTML', () => {
    const m = renderMail('invitation', settings, {
      token: 'ghin_tok',
      ttlSec: 7 * 86_400,
      context: { organizationName: 'Hotel <Alpha>' },
    });
    assert.equal(m.subject, 'Hotel <Alpha> invites you to <Acme & "Co">');
    assert.match(m.text, /^Hotel <Alpha> invites you to join it on <Acme & "Co">\./);
    assert.match(m.text, /within 7 days/);
    assert.match(m.text, /https:\/\/app\.example\.com\/join\?token=ghin_tok/);
    assert.ok(m.html.includes('Hotel &lt;Alpha&gt; invites you'));
    assert.ok(!m.html.includes('<Alpha>'), 'the organisation name is escaped');
  });

  it('escapes every HTML-significant character and says lifetimes like people do', () => {
    assert.equal(
      escapeHtml(`<a href="x">'&'</a>`),
      '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;',
    );
    assert.equal(describeLifetime(1800), '30 minutes');
    assert.equal(describeLifetime(3600), '1 hour');
    assert.equal(describeLifetime(7200), '2 hours');
    assert.equal(describeLifetime(172_800), '2 days');
    assert.equal(describeLifetime(90), '2 minutes');
    assert.equal(describeLifetime(2), '2 seconds');
  });
});
