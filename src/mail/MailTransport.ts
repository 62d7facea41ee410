/** One message as handed to a transport. */
export interface OutgoingMail {
  kind: string;
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  /** RFC 5322 Message-ID, `<...@...>`, the same on every attempt. */
  messageId: string;
}

/** Where mail goes: an SMTP relay, or the log in development. */
export interface MailTransport {
  readonly name: 'smtp' | 'log';
  /** Resolves once the receiving server accepted the message; rejects otherwise. */
  send(mail: OutgoingMail, signal: AbortSignal): Promise<void>;
  close(): void;
}

/**
 * Whether a failed send is worth retrying: SMTP 5xx answers (other than authentication) are
 * permanent (the relay refused this message or recipient); everything else (4xx, network,
 * timeouts, a relay that is down) is retried with backoff.
 */
export function isPermanentFailure(error: unknown): boolean {
  const e = error as { responseCode?: unknown; code?: unknown };
  return (
    typeof e?.responseCode === 'number' &&
    e.responseCode >= 500 &&
    e.responseCode < 600 &&
    e.code !== 'EAUTH'
  );
}

/** A short description of a failed send for the outbox row and the log (no message content). */
export function describeSendError(error: unknown): string {
  const e = error as {
    code?: unknown;
    responseCode?: unknown;
    response?: unknown;
    message?: unknown;
  };
  const parts = [
    typeof e?.code === 'string' ? e.code : undefined,
    typeof e?.responseCode === 'number' ? String(e.responseCode) : undefined,
    typeof e?.response === 'string'
      ? e.response
      : typeof e?.message === 'string'
        ? e.message
        : String(error),
  ].filter((p) => p !== undefined);
  return parts.join(' ').replace(/\s+/g, ' ').slice(0, 500);
}
