import { type ClientReadableStream, type StatusObject, status } from '@grpc/grpc-js';
import type { Revocation } from './createDenyList.ts';
import { errorInfoOf } from './errorReason.ts';
import {
  type RevocationEvent,
  RevocationScope,
  type WatchRevocationsResponse,
} from './gen/gatehouse/auth/v1/auth_service.ts';
import type { Duration } from './gen/google/protobuf/duration.ts';

/** What the stream is doing, for `onStreamStatus`. */
export interface StreamStatus {
  state: 'connecting' | 'connected' | 'disconnected' | 'closed';
  /** The cursor the verifier resumes from ("" = only new events, a fresh start). */
  cursor: string;
  /** Stream calls opened so far. */
  connects: number;
  /** Why the last call ended, when it did (a gRPC status and the ErrorInfo reason, if any). */
  lastError?: { code: status; details: string; reason: string | null };
}

/** The stretch of time the verifier has seen every committed revocation of. */
export interface Coverage {
  /** Server time of the first heartbeat after a fresh start (ms since the epoch). */
  sinceServerMs: number;
  /** Local time when that heartbeat arrived (ms since the epoch). */
  sinceLocalMs: number;
}

export interface RevocationFeed {
  /** True while a stream call is open and has delivered a message. */
  connected(): boolean;
  /** Local time of the last message (event or heartbeat), or null before the first. */
  lastHeardAtMs(): number | null;
  /** The access-token lifetime the last heartbeat announced (ms), or null before one. */
  accessTokenTtlMs(): number | null;
  /** The continuous coverage, or null before the first heartbeat and after a gap. */
  coverage(): Coverage | null;
  status(): StreamStatus;
  /** Resolves on the first heartbeat; rejects when Gatehouse refuses the credential. */
  readonly firstHeartbeat: Promise<void>;
  close(): void;
}

export interface RevocationFeedOptions {
  /** Opens WatchRevocations after `afterCursor`. */
  open(afterCursor: string): ClientReadableStream<WatchRevocationsResponse>;
  onRevocation(revocation: Revocation, event: RevocationEvent): void;
  onStatus(status: StreamStatus): void;
  /** Reconnect delays: doubling from `initialMs` to `maxMs`, with jitter. */
  backoff: { initialMs: number; maxMs: number };
  /** A stream silent this long (no heartbeat) is assumed dead and reopened. */
  staleAfterMs: number;
}

const CURSOR_EXPIRED = 'REVOCATION_CURSOR_EXPIRED';
/** Answers that will not change by retrying soon: ready() rejects with them (retries go on). */
const REFUSALS = new Set([status.UNAUTHENTICATED, status.PERMISSION_DENIED, status.UNIMPLEMENTED]);

const SCOPES: Record<number, Revocation['scope']> = {
  [RevocationScope.REVOCATION_SCOPE_SESSION]: 'session',
  [RevocationScope.REVOCATION_SCOPE_USER]: 'user',
  [RevocationScope.REVOCATION_SCOPE_USER_ORGANIZATION]: 'user_organization',
  [RevocationScope.REVOCATION_SCOPE_API_KEY]: 'api_key',
};

const durationMs = (d: Duration | undefined): number | null =>
  d === undefined ? null : Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6);

/** The deny-list's view of an event. */
export function toRevocation(event: RevocationEvent): Revocation {
  return {
    scope: SCOPES[event.scope] ?? 'unspecified',
    sessionId: event.sessionId,
    userId: event.userId,
    apiKeyId: event.apiKeyId,
    organizationId: event.organizationId,
    serviceAccountId: event.serviceAccountId,
    // Without a time, fail closed: everything issued until now.
    revokeTimeMs: event.revokeTime?.getTime() ?? Date.now(),
  };
}

/**
 * The subscription to AuthService.WatchRevocations: applies every event, remembers the cursor,
 * reopens after any end with the last cursor (backing off), starts over from "" when the
 * cursor is too old (OUT_OF_RANGE REVOCATION_CURSOR_EXPIRED) or refused (INVALID_ARGUMENT),
 * and then reports the gap through `coverage()` so tokens issued before it are checked again.
 */
export function createRevocationFeed(options: RevocationFeedOptions): RevocationFeed {
  let cursor = '';
  let call: ClientReadableStream<WatchRevocationsResponse> | undefined;
  let live = false;
  let lastHeard: number | null = null;
  let callOpenedAt = 0;
  let ttlMs: number | null = null;
  let coverage: Coverage | null = null;
  let connects = 0;
  let attempt = 0;
  let closed = false;
  let lastError: StreamStatus['lastError'];
  let retryTimer: NodeJS.Timeout | undefined;
  let state: StreamStatus['state'] = 'connecting';
  let heartbeatSeen = false;
  let resolveFirst: () => void = () => {};
  let rejectFirst: (error: Error) => void = () => {};
  const firstHeartbeat = new Promise<void>((resolve, reject) => {
    resolveFirst = resolve;
    rejectFirst = reject;
  });
  firstHeartbeat.catch(() => {});

  const snapshot = (): StreamStatus => ({
    state,
    cursor,
    connects,
    ...(lastError === undefined ? {} : { lastError }),
  });
  const report = (next: StreamStatus['state']) => {
    state = next;
    options.onStatus(snapshot());
  };

  function connect(): void {
    if (closed) return;
    // Resuming from "" would skip whatever happened while disconnected: that is a gap.
    if (cursor === '') coverage = null;
    connects++;
    report('connecting');
    const current = options.open(cursor);
    call = current;
    callOpenedAt = Date.now();
    current.on('data', (message: WatchRevocationsResponse) => {
      if (call !== current) return;
      lastHeard = Date.now();
      if (!live) {
        live = true;
        attempt = 0;
        report('connected');
      }
      const kind = message.kind;
      if (kind?.$case === 'event') {
        options.onRevocation(toRevocation(kind.value), kind.value);
        if (kind.value.cursor !== '') cursor = kind.value.cursor;
      } else if (kind?.$case === 'heartbeat') {
        const hb = kind.value;
        if (hb.cursor !== '') cursor = hb.cursor;
        ttlMs = durationMs(hb.accessTokenTtl) ?? ttlMs;
        coverage ??= {
          sinceServerMs: hb.serverTime?.getTime() ?? lastHeard,
          sinceLocalMs: lastHeard,
        };
        if (!heartbeatSeen) {
          heartbeatSeen = true;
          resolveFirst();
        }
      }
    });
    // Every end, errors included, arrives as a status; 'error' only needs a listener.
    current.on('error', () => {});
    current.on('status', (s: StatusObject) => {
      if (call !== current) return;
      ended(s);
    });
  }

  function ended(s: StatusObject): void {
    call = undefined;
    live = false;
    const reason = errorInfoOf(s)?.reason ?? null;
    lastError = { code: s.code, details: s.details, reason };
    if (closed) return;
    report('disconnected');
    let delay: number;
    if (
      cursor !== '' &&
      ((s.code === status.OUT_OF_RANGE && reason === CURSOR_EXPIRED) ||
        s.code === status.INVALID_ARGUMENT)
    ) {
      // Too far behind (or a cursor the server does not accept): start over; the gap is
      // accounted for by coverage().
      cursor = '';
      coverage = null;
      delay = 0;
    } else {
      if (!heartbeatSeen && REFUSALS.has(s.code)) {
        rejectFirst(
          new Error(
            `Gatehouse refused the revocation stream (${status[s.code]}${reason ? ` ${reason}` : ''}): ${s.details}; ${
              s.code === status.UNIMPLEMENTED
                ? 'this Gatehouse has no WatchRevocations'
                : "the verifier's API key needs the permission revocations:watch"
            }`,
          ),
        );
      }
      const base = Math.min(options.backoff.maxMs, options.backoff.initialMs * 2 ** attempt);
      delay = base / 2 + Math.random() * (base / 2);
      attempt++;
    }
    retryTimer = setTimeout(connect, delay);
    retryTimer.unref();
  }

  // A stream that went silent (a half-open connection, a stuck proxy) is reopened.
  const watchdog = setInterval(
    () => {
      const lastActivity = Math.max(lastHeard ?? 0, callOpenedAt);
      if (call !== undefined && Date.now() - lastActivity > options.staleAfterMs) call.cancel();
    },
    Math.max(50, Math.floor(options.staleAfterMs / 4)),
  );
  watchdog.unref();

  connect();

  return {
    connected: () => live,
    lastHeardAtMs: () => lastHeard,
    accessTokenTtlMs: () => ttlMs,
    coverage: () => coverage,
    status: snapshot,
    firstHeartbeat,
    close() {
      if (closed) return;
      closed = true;
      clearTimeout(retryTimer);
      clearInterval(watchdog);
      const current = call;
      call = undefined;
      live = false;
      current?.cancel();
      rejectFirst(new Error('closed'));
      report('closed');
    },
  };
}
