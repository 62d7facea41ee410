import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';

/** A message the receiver accepted (answered 250), parsed enough to assert on. */
export interface ReceivedMail {
  envelopeFrom: string;
  envelopeTo: string[];
  headers: Map<string, string>;
  messageId: string;
  from: string;
  to: string;
  subject: string;
  /** The text/plain and text/html parts, decoded. */
  text: string;
  html: string;
  raw: string;
}

/** What the receiver answers to one DATA: accept, a temporary/permanent error, or never. */
export type Verdict = 'accept' | 'hold' | { code: number; message: string };

/**
 * A real SMTP server (the smtp-server package) on a free loopback port, in the test process: no
 * TLS, authentication optional. `decide` picks the answer for each DATA (default accept);
 * `messages` holds what was accepted, `attempts` every DATA seen (accepted or not).
 */
export class SmtpReceiver {
  readonly messages: ReceivedMail[] = [];
  attempts = 0;
  /** Every DATA received, accepted or not. */
  readonly seen: ReceivedMail[] = [];
  decide: (mail: ReceivedMail, attempt: number) => Verdict | Promise<Verdict> = () => 'accept';
  readonly #server: SMTPServer;
  readonly #held = new Set<SMTPServerSession>();
  readonly #waiters = new Set<() => void>();
  #port = 0;

  private constructor() {
    this.#server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      closeTimeout: 200,
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', async () => {
          const mail = parseMail(Buffer.concat(chunks).toString('utf8'), session);
          this.attempts += 1;
          this.seen.push(mail);
          const verdict = await this.decide(mail, this.attempts);
          if (verdict === 'hold') {
            this.#held.add(session);
          } else if (verdict === 'accept') {
            this.messages.push(mail);
            callback(null, 'queued');
          } else {
            callback(Object.assign(new Error(verdict.message), { responseCode: verdict.code }));
          }
          this.#notify();
        });
      },
    });
    this.#server.on('error', () => {});
  }

  static async start(): Promise<SmtpReceiver> {
    const receiver = new SmtpReceiver();
    const server = receiver.#server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    receiver.#port = (server.address() as AddressInfo).port;
    return receiver;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.#port}`;
  }

  /** How many DATA commands are being held unanswered right now. */
  get held(): number {
    return this.#held.size;
  }

  /** Accepted messages to `address` (case-insensitive). */
  to(address: string): ReceivedMail[] {
    const a = address.toLowerCase();
    return this.messages.filter((m) => m.envelopeTo.some((t) => t.toLowerCase() === a));
  }

  /** Resolves once `predicate` holds (checked after every DATA), or fails after `timeoutMs`. */
  async waitFor(predicate: () => boolean, timeoutMs = 10_000, what = 'mail'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(
          `timed out waiting for ${what} (accepted ${this.messages.length}, attempts ${this.attempts})`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(remaining, 100));
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#waiters.add(done);
      });
    }
  }

  /** The first accepted message to `address`, waiting for it. */
  async next(address: string, count = 1, timeoutMs = 10_000): Promise<ReceivedMail> {
    await this.waitFor(() => this.to(address).length >= count, timeoutMs, `mail to ${address}`);
    return this.to(address)[count - 1] as ReceivedMail;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #notify() {
    for (const w of this.#waiters) w();
    this.#waiters.clear();
  }
}

/** The `token` query parameter of the first link in `text` that starts with `base`. */
export function tokenFromLink(text: string, base: string): { link: string; token: string } {
  const link = text.match(/https?:\/\/[^\s<>"]+/g)?.find((l) => l.startsWith(base));
  if (!link) throw new Error(`no link starting with ${base} in:\n${text}`);
  const token = new URL(link).searchParams.get('token');
  if (!token) throw new Error(`no token in ${link}`);
  return { link, token };
}

function parseHeaders(block: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of block.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  return headers;
}

function decodeWords(value: string): string {
  return value.replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_m, _charset, enc: string, data) =>
    enc.toUpperCase() === 'B'
      ? Buffer.from(data, 'base64').toString('utf8')
      : decodeQuotedPrintable(data.replace(/_/g, ' ')),
  );
}

function decodeQuotedPrintable(body: string): string {
  const bytes: number[] = [];
  const s = body.replace(/=\r?\n/g, '');
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(s[i] as string, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function decodeBody(headers: Map<string, string>, body: string): string {
  const cte = (headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  if (cte === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (cte === 'quoted-printable') return decodeQuotedPrintable(body);
  return body;
}

function parseMail(raw: string, session: SMTPServerSession): ReceivedMail {
  const split = raw.indexOf('\r\n\r\n');
  const headers = parseHeaders(raw.slice(0, split));
  const body = raw.slice(split + 4);
  let text = '';
  let html = '';
  const type = headers.get('content-type') ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  const parts = boundary
    ? body
        .split(`--${boundary}`)
        .slice(1, -1)
        .map((p) => p.replace(/^\r\n/, ''))
    : [raw];
  for (const part of parts) {
    const at = part.indexOf('\r\n\r\n');
    const h = parseHeaders(part.slice(0, at));
    const content = decodeBody(h, part.slice(at + 4).replace(/\r\n$/, '')).replace(/\r\n/g, '\n');
    const partType = (h.get('content-type') ?? '').toLowerCase();
    if (partType.startsWith('text/plain')) text = content;
    if (partType.startsWith('text/html')) html = content;
  }
  const mailFrom = session.envelope.mailFrom;
  return {
    envelopeFrom: mailFrom ? mailFrom.address : '',
    envelopeTo: session.envelope.rcptTo.map((r) => r.address),
    headers,
    messageId: headers.get('message-id') ?? '',
    from: decodeWords(headers.get('from') ?? ''),
    to: decodeWords(headers.get('to') ?? ''),
    subject: decodeWords(headers.get('subject') ?? ''),
    text,
    html,
    raw,
  };
}
