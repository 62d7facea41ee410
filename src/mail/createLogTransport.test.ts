import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import { createLogTransport } from './createLogTransport.ts';

const mail = {
  kind: 'password_reset',
  from: 'no-reply@localhost',
  to: 'ada@example.test',
  subject: 'Reset your Gatehouse password',
  text: 'Open this link:\nhttp://localhost:3000/reset-password?token=ghpr_secret\n',
  html: '<a href="http://localhost:3000/reset-password?token=ghpr_secret">reset</a>',
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
  it('logs recipient, subject and the link outside production', async () => {
    const { log, lines } = capture();
    await createLogTransport(log, { logLinks: true }).send(mail, new AbortController().signal);
    const entry = JSON.parse(lines.join(''));
    assert.equal(entry.mail.to, 'ada@example.test');
    assert.equal(entry.mail.subject, mail.subject);
    assert.deepEqual(entry.mail.links, ['http://localhost:3000/reset-password?token=ghpr_secret']);
  });

  it('never logs a link (a token) in production', async () => {
    const { log, lines } = capture();
    await createLogTransport(log, { logLinks: false }).send(mail, new AbortController().signal);
    assert.ok(lines.length === 1);
    assert.ok(!lines.join('').includes('ghpr_secret'));
    assert.equal(JSON.parse(lines.join('')).mail.subject, mail.subject);
  });
});
