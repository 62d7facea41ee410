import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import { createLogTransport } from './createLogTransport.ts';

const TOKEN = 'ghpr_Qm9vbGVhbiBsb2dpYyBpcyBhIHRva2VuIG9mIGx1Y2sgYWdhaW4x';
const mail = {
  kind: 'password_reset',
  from: 'no-reply@localhost',
  to: 'ada@example.test',
  subject: 'Reset your Gatehouse password',
  text: `Open this link:\nhttps://app.example.test/reset?lang=en&token=${TOKEN}\n`,
  html: `<a href="https://app.example.test/reset?lang=en&amp;token=${TOKEN}">reset</a>`,
  messageId: '<id@localhost>',
};

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

describe('log transport', () => {
  it('outside production writes ONE line that says the mail was not sent and shows its token', async () => {
    const { log, lines } = capture();
    await createLogTransport(log, { logLinks: true }).send(mail, new AbortController().signal);
    assert.equal(lines.length, 1);
    const entry = JSON.parse(lines[0] ?? '');
    assert.equal(
      entry.msg,
      `mail not sent (MAIL_TRANSPORT=log): "Reset your Gatehouse password" to ada@example.test; ` +
        `token ${TOKEN} (call AuthService/ResetPassword with it)`,
    );
    assert.equal(entry.mail.to, 'ada@example.test');
    assert.deepEqual(entry.mail.links, [`https://app.example.test/reset?lang=en&token=${TOKEN}`]);
  });

  it('names VerifyEmail for a verification message', async () => {
    const { log, lines } = capture();
    const token = TOKEN.replace('ghpr_', 'ghev_');
    await createLogTransport(log, { logLinks: true }).send(
      {
        ...mail,
        kind: 'email_verification',
        subject: 'Verify',
        text: `http://x.invalid/?token=${token}`,
      },
      new AbortController().signal,
    );
    assert.match(JSON.parse(lines[0] ?? '').msg, /token ghev_\S+ \(call AuthService\/VerifyEmail/);
  });

  it('never logs a token or link in production', async () => {
    const { log, lines } = capture();
    await createLogTransport(log, { logLinks: false }).send(mail, new AbortController().signal);
    assert.equal(lines.length, 1);
    assert.ok(!lines.join('').includes(TOKEN));
    const entry = JSON.parse(lines[0] ?? '');
    assert.equal(entry.mail.subject, mail.subject);
    assert.match(entry.msg, /^mail not sent \(MAIL_TRANSPORT=log\): .*withheld in production$/);
  });
});
