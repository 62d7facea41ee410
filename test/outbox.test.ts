import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { credentials } from '@grpc/grpc-js';
import pg from 'pg';
import { ConfigError, loadConfig } from '../src/config.ts';
import { AuthServiceClient } from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import { createLogger } from '../src/log.ts';
import { createOutboxSender } from '../src/mail/createOutboxSender.ts';
import { createSmtpTransport } from '../src/mail/createSmtpTransport.ts';
import { createDatabase, type DatabasePool } from '../src/storage/createDatabase.ts';
import { migrate } from '../src/storage/migrate.ts';
import { insertOutboxMessage } from '../src/storage/outbox.ts';
import { type ReceivedMail, SmtpReceiver, type Verdict } from './helpers/smtpReceiver.ts';
import { type SpawnedGatehouse, spawnGatehouse } from './helpers/spawnGatehouse.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { createTestDatabase, redisUrl, type TestDatabase } from './helpers/testDatabase.ts';
import { registerUser, uniqueEmail } from './helpers/users.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How many times the receiver accepted each Message-ID. */
function acceptedPerMessageId(messages: ReceivedMail[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of messages) counts.set(m.messageId, (counts.get(m.messageId) ?? 0) + 1);
  return counts;
}

/** Polls `read` until `done` holds for its value (or fails after `timeoutMs`). */
async function eventually<T>(
  read: () => Promise<T>,
  done: (v: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`condition not met in ${timeoutMs} ms: ${JSON.stringify(value)}`);
    await sleep(50);
  }
}

describe('outbox delivery: retries and give-ups', () => {
  let smtp: SmtpReceiver;
  let gh: Gatehouse;
  before(async () => {
    smtp = await SmtpReceiver.start();
    gh = await startGatehouse({
      SMTP_URL: smtp.url,
      SMTP_FROM: 'Gatehouse <no-reply@gatehouse.test>',
      MAIL_POLL_INTERVAL_MS: '100',
      MAIL_RETRY_BASE_MS: '200',
      MAIL_RETRY_MAX_MS: '1000',
      MAIL_MAX_ATTEMPTS: '3',
    });
  });
  after(async () => {
    // The receiver is stopped even when start-up failed: an open server keeps the file running.
    try {
      await gh?.stop();
    } finally {
      await smtp?.stop();
    }
  });
  const row = (messageId: string) =>
    gh.db
      .query<{
        status: string;
        attempts: number;
        text_body: string;
        html_body: string;
        last_error: string | null;
      }>(
        `SELECT status, attempts, text_body, html_body, last_error FROM outbox_messages
         WHERE message_id = $1`,
        [messageId],
      )
      .then((rows) => rows[0]);
  const metrics = () => fetch(`http://127.0.0.1:${gh.app.httpPort}/metrics`).then((r) => r.text());

  it('retries a temporary refusal (4xx) with backoff and delivers the message once', async () => {
    const u = await registerUser(gh);
    const refused = new Set<string>();
    smtp.decide = (mail) => {
      if (!mail.envelopeTo.includes(u.email) || refused.has(mail.messageId)) return 'accept';
      refused.add(mail.messageId);
      return { code: 451, message: '4.3.0 try again later' };
    };
    await call(gh.auth, 'requestPasswordReset', { email: u.email });
    const mail = await smtp.next(u.email);
    assert.equal(
      smtp.seen.filter((m) => m.messageId === mail.messageId).length,
      2,
      'refused once, then accepted',
    );
    const sent = await eventually(
      () => row(mail.messageId),
      (r) => r?.status === 'sent',
    );
    assert.equal(sent?.attempts, 2);
    assert.equal(sent?.text_body, '');
    await sleep(500);
    assert.equal(smtp.to(u.email).length, 1, 'delivered exactly once');
    const text = await metrics();
    assert.match(text, /gatehouse_mail_retries_total\{kind="password_reset"\} [1-9]/);
    assert.match(text, /gatehouse_mail_sent_total\{kind="password_reset"\} [1-9]/);
    assert.match(text, /gatehouse_outbox_pending \d+/);
  });

  it('gives up at once on a permanent refusal (5xx) and blanks the bodies', async () => {
    const u = await registerUser(gh);
    smtp.decide = (mail) =>
      mail.envelopeTo.includes(u.email)
        ? { code: 550, message: '5.1.1 no such mailbox' }
        : 'accept';
    await call(gh.auth, 'requestPasswordReset', { email: u.email });
    await smtp.waitFor(() => smtp.seen.some((m) => m.envelopeTo.includes(u.email)));
    const messageId = smtp.seen.find((m) => m.envelopeTo.includes(u.email))?.messageId ?? '';
    const failed = await eventually(
      () => row(messageId),
      (r) => r?.status === 'failed',
    );
    assert.equal(failed?.attempts, 1);
    assert.equal(failed?.text_body, '');
    assert.equal(failed?.html_body, '');
    assert.match(failed?.last_error ?? '', /550/);
    assert.match(await metrics(), /gatehouse_mail_failed_total\{kind="password_reset"\} [1-9]/);
  });

  it('gives up after MAIL_MAX_ATTEMPTS temporary refusals', async () => {
    const u = await registerUser(gh);
    smtp.decide = (mail) =>
      mail.envelopeTo.includes(u.email) ? { code: 421, message: '4.7.0 busy' } : 'accept';
    await call(gh.auth, 'requestPasswordReset', { email: u.email });
    await smtp.waitFor(() => smtp.seen.some((m) => m.envelopeTo.includes(u.email)));
    const messageId = smtp.seen.find((m) => m.envelopeTo.includes(u.email))?.messageId ?? '';
    const failed = await eventually(
      () => row(messageId),
      (r) => r?.status === 'failed',
    );
    assert.equal(failed?.attempts, 3);
    assert.equal(smtp.seen.filter((m) => m.messageId === messageId).length, 3);
    assert.equal(smtp.to(u.email).length, 0);
  });
});

describe('outbox delivery: several senders', () => {
  let smtp: SmtpReceiver;
  let db: TestDatabase;
  let pool: DatabasePool;
  before(async () => {
    smtp = await SmtpReceiver.start();
    db = await createTestDatabase();
    await migrate(db.url);
    pool = await createDatabase({
      url: db.url,
      poolMax: 6,
      statementTimeoutMs: 5000,
      connectTimeoutMs: 3000,
    });
  });
  after(async () => {
    try {
      await pool?.end();
      await db?.drop();
    } finally {
      await smtp?.stop();
    }
  });

  it('share the outbox without sending any message twice (FOR UPDATE SKIP LOCKED)', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const messageId = `<${randomUUID()}@gatehouse.test>`;
      ids.push(messageId);
      await insertOutboxMessage(pool, {
        kind: 'password_reset',
        recipient: `r${i}@example.test`,
        subject: `message ${i}`,
        text: `text ${i}`,
        html: `<p>html ${i}</p>`,
        messageId,
        ttlSec: 600,
      });
    }
    // A slow relay, so the senders' batches overlap in time.
    smtp.decide = () => sleep(15).then(() => 'accept' as const);
    const settings = {
      pollIntervalMs: 1000,
      batchSize: 3,
      maxAttempts: 3,
      retryBaseMs: 100,
      retryMaxMs: 1000,
      sendTimeoutMs: 5000,
    };
    const log = createLogger('silent');
    const senders = [0, 1, 2].map(() =>
      createOutboxSender({
        pool,
        transport: createSmtpTransport(
          {
            url: smtp.url,
            from: 'no-reply@gatehouse.test',
            rejectUnauthorized: true,
            requireTls: false,
          },
          5000,
        ),
        from: 'no-reply@gatehouse.test',
        settings,
        log,
      }),
    );
    const claimed = await Promise.all(senders.map((s) => s.drain()));
    await Promise.all(senders.map((s) => s.stop()));
    assert.equal(
      claimed.reduce((a, b) => a + b, 0),
      30,
      `claims per sender: ${claimed}`,
    );
    assert.ok(claimed.filter((n) => n > 0).length >= 2, `several senders took part: ${claimed}`);
    const counts = acceptedPerMessageId(smtp.messages);
    assert.equal(counts.size, 30);
    assert.deepEqual(
      ids.filter((id) => counts.get(id) !== 1),
      [],
      'every message accepted exactly once',
    );
    const owners = await db.query<{ owners: number; sent: number }>(
      `SELECT count(DISTINCT locked_by)::int AS owners, count(*) FILTER (WHERE status = 'sent')::int AS sent
       FROM outbox_messages`,
    );
    assert.equal(owners[0]?.sent, 30);
    assert.ok((owners[0]?.owners ?? 0) >= 2);
  });

  const settings = {
    pollIntervalMs: 1000,
    batchSize: 3,
    maxAttempts: 3,
    retryBaseMs: 100,
    retryMaxMs: 200,
    sendTimeoutMs: 5000,
  };
  const sender = (stopGraceMs?: number) =>
    createOutboxSender({
      pool,
      transport: createSmtpTransport(
        {
          url: smtp.url,
          from: 'no-reply@gatehouse.test',
          rejectUnauthorized: true,
          requireTls: false,
        },
        5000,
      ),
      from: 'no-reply@gatehouse.test',
      settings,
      log: createLogger('silent'),
      ...(stopGraceMs === undefined ? {} : { stopGraceMs }),
    });
  const queue = (recipient: string, ttlSec = 600) =>
    insertOutboxMessage(pool, {
      kind: 'email_verification',
      recipient,
      subject: 'subject',
      text: 'text',
      html: '<p>html</p>',
      messageId: `<${randomUUID()}@gatehouse.test>`,
      ttlSec,
    });

  it('never sends a message whose link expired before it could be delivered', async () => {
    const recipient = uniqueEmail('late');
    const id = await queue(recipient, 1);
    await sleep(1100);
    const s = sender();
    assert.equal(await s.drain(), 0);
    await s.stop();
    const [row] = await db.query<{ status: string; text_body: string; last_error: string }>(
      'SELECT status, text_body, last_error FROM outbox_messages WHERE id = $1',
      [id],
    );
    assert.equal(row?.status, 'failed');
    assert.equal(row?.text_body, '');
    assert.match(row?.last_error ?? '', /expired/);
    assert.equal(smtp.to(recipient).length, 0);
  });

  it('on stop, aborts a hung send after the grace period; the message is retried later', async () => {
    const recipient = uniqueEmail('hung');
    const id = await queue(recipient);
    smtp.decide = (mail) =>
      mail.envelopeTo.includes(recipient) && smtp.held === 0 ? 'hold' : 'accept';
    const first = sender(100);
    const draining = first.drain();
    await smtp.waitFor(() => smtp.held === 1, 5000, 'the hung send');
    await first.stop();
    assert.equal(await draining, 1);
    const [row] = await db.query<{ status: string; attempts: number; locked_until: Date | null }>(
      'SELECT status, attempts, locked_until FROM outbox_messages WHERE id = $1',
      [id],
    );
    assert.deepEqual([row?.status, row?.attempts, row?.locked_until], ['pending', 1, null]);
    await sleep(250);
    const second = sender();
    assert.equal(await second.drain(), 1);
    await second.stop();
    assert.equal(smtp.to(recipient).length, 1);
  });
});

describe('outbox delivery: a killed sender', () => {
  let smtp: SmtpReceiver;
  let db: TestDatabase;
  let child: SpawnedGatehouse | undefined;
  let gh: Gatehouse | undefined;
  beforeEach(async () => {
    smtp = await SmtpReceiver.start();
    db = await createTestDatabase();
  });
  afterEach(async () => {
    child?.process.kill('SIGKILL');
    await child?.exited;
    child = undefined;
    try {
      await gh?.stop({ keepDatabase: true });
      gh = undefined;
      await db?.drop();
    } finally {
      await smtp?.stop();
    }
  });

  const env = () => ({
    SMTP_URL: smtp.url,
    SMTP_FROM: 'Gatehouse <no-reply@gatehouse.test>',
    MAIL_POLL_INTERVAL_MS: '100',
    MAIL_SEND_TIMEOUT_MS: '1500',
    MAIL_BATCH_SIZE: '1',
    RATE_LIMIT_IP_READ_POINTS: '1000000',
    RATE_LIMIT_IP_CREDENTIAL_POINTS: '1000000',
    RATE_LIMIT_ACCOUNT_POINTS: '1000000',
    RATE_LIMIT_ACCOUNT_IP_POINTS: '1000000',
  });

  /** A Gatehouse process (its own sender) on the test database; queues a reset for each email. */
  async function senderProcessWithResets(emails: string[]): Promise<SpawnedGatehouse> {
    const spawned = await spawnGatehouse({
      ...env(),
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: `ghtest:${randomBytes(4).toString('hex')}:`,
    });
    child = spawned;
    const auth = new AuthServiceClient(
      `127.0.0.1:${spawned.grpcPort}`,
      credentials.createInsecure(),
    );
    try {
      for (const email of emails) {
        await call(auth, 'register', { email, password: 'violet-harbour-anchors-9' });
      }
      for (const email of emails) await call(auth, 'requestPasswordReset', { email });
    } finally {
      auth.close();
    }
    return spawned;
  }

  async function kill(spawned: SpawnedGatehouse): Promise<void> {
    spawned.process.kill('SIGKILL');
    await spawned.exited;
    child = undefined;
  }

  it('is resumed by another instance: nothing lost, nothing accepted twice', async () => {
    // Hold the first message in flight: the relay has the whole DATA but never answers.
    let first: string | undefined;
    smtp.decide = (mail) => {
      if (first !== undefined) return 'accept';
      first = mail.messageId;
      return 'hold';
    };
    const emails = [uniqueEmail('k1'), uniqueEmail('k2'), uniqueEmail('k3')];
    const spawned = await senderProcessWithResets(emails);
    await smtp.waitFor(() => smtp.held === 1, 10_000, 'the first message in flight');
    await kill(spawned);
    const rows = await db.query<{ status: string; leased: boolean }>(
      `SELECT status, locked_until > now() AS leased FROM outbox_messages ORDER BY id`,
    );
    assert.deepEqual(
      rows.map((r) => r.status),
      ['pending', 'pending', 'pending'],
      'nothing was recorded as sent: nothing was accepted',
    );
    assert.equal(rows.filter((r) => r.leased).length, 1, 'the killed sender held one lease');

    gh = await startGatehouse(env(), db);
    await smtp.waitFor(() => smtp.messages.length >= 3, 15_000, 'all three messages');
    await sleep(1000);
    const counts = acceptedPerMessageId(smtp.messages);
    assert.equal(counts.size, 3);
    assert.deepEqual([...counts.values()], [1, 1, 1], 'each message accepted exactly once');
    assert.equal(counts.get(first ?? ''), 1, 'the message in flight was resumed');
    assert.deepEqual(
      emails.map((e) => smtp.to(e).length),
      [1, 1, 1],
    );
    const sent = await db.query<{ status: string; attempts: number; message_id: string }>(
      'SELECT status, attempts, message_id FROM outbox_messages ORDER BY id',
    );
    assert.deepEqual(
      sent.map((r) => r.status),
      ['sent', 'sent', 'sent'],
    );
    assert.equal(
      sent.find((r) => r.message_id === first)?.attempts,
      2,
      'resumed after its lease expired',
    );
  });

  it('sends again, with the same Message-ID, if killed after the relay accepted but before recording it', async () => {
    // The documented at-least-once window: hold a lock on the row so the sender's "sent" UPDATE
    // waits, let the relay accept, then kill the sender before that UPDATE can commit.
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    try {
      let first: string | undefined;
      smtp.decide = async (mail): Promise<Verdict> => {
        if (first === undefined) {
          first = mail.messageId;
          await locker.query('BEGIN');
          await locker.query('SELECT id FROM outbox_messages WHERE message_id = $1 FOR UPDATE', [
            mail.messageId,
          ]);
        }
        return 'accept';
      };
      const email = uniqueEmail('window');
      const spawned = await senderProcessWithResets([email]);
      await smtp.next(email);
      const [waiting] = await eventually(
        () =>
          db.query<{ pid: number }>(
            `SELECT pid FROM pg_stat_activity
             WHERE wait_event_type = 'Lock' AND query LIKE '%UPDATE outbox_messages%'`,
          ),
        (rows) => rows.length === 1,
      );
      // The process dies, and with it its database session (a backend blocked on a lock would
      // otherwise still commit the UPDATE once the lock is released).
      await kill(spawned);
      await db.query('SELECT pg_terminate_backend($1)', [waiting?.pid]);
      await locker.query('ROLLBACK');

      gh = await startGatehouse(env(), db);
      await smtp.next(email, 2, 15_000);
      const copies = smtp.to(email);
      assert.equal(copies.length, 2, 'accepted twice: delivery is at-least-once');
      assert.equal(copies[0]?.messageId, first);
      assert.equal(copies[1]?.messageId, first, 'both copies carry the same Message-ID');
      const [row] = await eventually(
        () =>
          db.query<{ status: string; attempts: number }>(
            'SELECT status, attempts FROM outbox_messages WHERE message_id = $1',
            [first],
          ),
        (rows) => rows[0]?.status === 'sent',
      );
      assert.equal(row?.status, 'sent');
      assert.equal(row?.attempts, 2);
    } finally {
      await locker.end();
    }
  });
});

describe('development mail without SMTP (the log transport)', () => {
  let db: TestDatabase;
  let child: SpawnedGatehouse | undefined;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    child?.process.kill('SIGKILL');
    await child?.exited;
    await db.drop();
  });

  it('logs one line per message with the token, which works from a terminal', async () => {
    child = await spawnGatehouse({
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: `ghtest:${randomBytes(4).toString('hex')}:`,
      MAIL_POLL_INTERVAL_MS: '100',
    });
    const logs = child.logs;
    const auth = new AuthServiceClient(`127.0.0.1:${child.grpcPort}`, credentials.createInsecure());
    try {
      const email = uniqueEmail('devmail');
      await call(auth, 'register', { email, password: 'violet-harbour-anchors-9' });
      const linesAbout = (to: string) => logs.filter((l) => JSON.stringify(l).includes(to));
      await call(auth, 'requestPasswordReset', { email });
      const [line] = await eventually(
        async () => logs.filter((l) => String(l.msg).includes(`to ${email}`)),
        (found) => found.length > 0,
      );
      const msg = String(line?.msg);
      assert.match(msg, /^mail not sent \(MAIL_TRANSPORT=log\): "Reset your Gatehouse password"/);
      const token =
        /token (ghpr_[A-Za-z0-9_-]{43}) \(call AuthService\/ResetPassword with it\)$/.exec(
          msg,
        )?.[1];
      assert.ok(token, `the token is in the line itself: ${msg}`);
      await eventually(
        () => db.query<{ status: string }>(`SELECT status FROM outbox_messages`),
        (rows) => rows.length === 1 && rows[0]?.status === 'sent',
      );
      // A barrier: the sender handles this second message only after it finished the first
      // (one round after another), so a "mail sent" line for the first would be logged by now.
      const other = uniqueEmail('devmail2');
      await call(auth, 'register', { email: other, password: 'violet-harbour-anchors-9' });
      await call(auth, 'requestPasswordReset', { email: other });
      await eventually(
        async () => logs.filter((l) => String(l.msg).includes(`to ${other}`)),
        (found) => found.length > 0,
      );
      assert.equal(linesAbout(email).length, 1, 'one line per message, nothing else about it');
      assert.deepEqual(
        logs.filter((l) => l.msg === 'mail sent'),
        [],
        'no "mail sent" after "mail not sent"',
      );
      await call(auth, 'resetPassword', { token, newPassword: 'quartz-lantern-meadow-42' });
      await call(auth, 'login', { identifier: email, password: 'quartz-lantern-meadow-42' });
    } finally {
      auth.close();
    }
  });
});

describe('mail configuration', () => {
  const base = { DATABASE_URL: 'postgres://x@127.0.0.1/x', REDIS_URL: 'redis://127.0.0.1:6379' };

  it('requires SMTP in production unless MAIL_TRANSPORT=log says otherwise', () => {
    assert.throws(
      () => loadConfig({ ...base, NODE_ENV: 'production' }),
      (e: Error) =>
        e instanceof ConfigError &&
        /SMTP_URL/.test(e.message) &&
        /MAIL_TRANSPORT=log/.test(e.message),
    );
    assert.throws(
      () => loadConfig({ ...base, NODE_ENV: 'production', SMTP_URL: 'smtp://relay.example:587' }),
      (e: Error) => e instanceof ConfigError && /SMTP_FROM/.test(e.message),
    );
    const prod = loadConfig({
      ...base,
      NODE_ENV: 'production',
      SMTP_URL: 'smtps://user:p%40ss@relay.example',
      SMTP_FROM: 'Acme <no-reply@acme.example>',
      PASSWORD_RESET_URL: 'https://app.acme.example/reset-password',
      EMAIL_VERIFICATION_URL: 'https://app.acme.example/verify-email',
    });
    assert.equal(prod.mail.transport, 'smtp');
    assert.equal(prod.mail.logLinks, false);
    const quiet = loadConfig({ ...base, NODE_ENV: 'production', MAIL_TRANSPORT: 'log' });
    assert.equal(quiet.mail.transport, 'log');
    assert.equal(quiet.mail.logLinks, false, 'links (tokens) are never logged in production');
    const dev = loadConfig({});
    assert.equal(dev.mail.transport, 'log');
    assert.equal(dev.mail.logLinks, true);
    assert.equal(dev.mail.passwordResetTtlSec, 1800);
    assert.equal(dev.mail.emailVerificationTtlSec, 86_400);
    assert.equal(dev.mail.requireVerifiedEmail, false);
  });

  it('names a malformed variable', () => {
    for (const [name, value] of [
      ['SMTP_URL', 'http://relay.example'],
      ['PASSWORD_RESET_URL', 'javascript:alert(1)'],
      ['EMAIL_VERIFICATION_URL', 'https://app.example/verify#frag'],
      ['MAIL_TRANSPORT', 'carrier-pigeon'],
      ['MAIL_PRODUCT_NAME', 'Acme\r\nBcc: x@evil.example'],
    ] as const) {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (e: Error) => e instanceof ConfigError && e.message.includes(name),
        name,
      );
    }
  });
});
