import {
  type ChannelCredentials,
  type ChannelOptions,
  credentials as grpcCredentials,
  type Interceptor,
  Metadata,
} from '@grpc/grpc-js';
import { LRUCache } from 'lru-cache';
import { createApiKeyValidator } from './createApiKeyValidator.ts';
import { createDenyList, type Revocation } from './createDenyList.ts';
import { createKeySet } from './createKeySet.ts';
import { createRevocationFeed, type StreamStatus } from './createRevocationFeed.ts';
import {
  AuthServiceClient,
  type RevocationEvent,
  type ValidateTokenResponse,
} from './gen/gatehouse/auth/v1/auth_service.ts';
import type { Identity } from './Identity.ts';
import { VerifierError } from './VerifierError.ts';
import { type VerifiedToken, verifyAccessToken } from './verifyAccessToken.ts';

export interface VerifierOptions {
  /** Gatehouse's gRPC address, e.g. "gatehouse.internal:50051". */
  target: string;
  credentials: {
    /**
     * A service account's API key (`ghk_...`) whose roles grant `revocations:watch`; sent as
     * `authorization: Bearer` on WatchRevocations.
     */
    apiKey: string;
    /** Channel credentials; default TLS with the system roots (`credentials.createSsl()`). */
    channel?: ChannelCredentials;
  };
  /** Gatehouse's JWT_ISSUER (default "gatehouse"). */
  issuer?: string;
  /** Gatehouse's JWT_AUDIENCE (default "gatehouse"). */
  audience?: string;
  /** Allowed clock difference for exp/nbf/iat, seconds (default 5). */
  clockToleranceSec?: number;
  /**
   * Keep answering from the signature and the deny-list when the revocation stream has been down
   * longer than the access-token lifetime (default false: refuse with STREAM_UNAVAILABLE).
   */
  failOpenAfterStreamLoss?: boolean;
  /** Delegate credentials that are not JWTs (API keys) to ValidateToken (default true). */
  acceptApiKeys?: boolean;
  /** How long a ValidateToken answer for an API key is reused, ms (default 5000). */
  apiKeyCacheMs?: number;
  /** Periodic JWKS refresh, ms (default 300000). */
  jwksRefreshIntervalMs?: number;
  /** At most one JWKS refetch for unknown kids per this many ms (default 10000). */
  jwksMinRefetchIntervalMs?: number;
  /** Tokens whose verification is remembered (default 10000). */
  tokenCacheSize?: number;
  /** Reconnect backoff of the revocation stream, ms (default 100 doubling to 10000). */
  reconnectBackoff?: { initialMs: number; maxMs: number };
  /** A stream silent this long is reopened, ms (default 60000; heartbeats come every 15 s). */
  streamStaleAfterMs?: number;
  /** Deadline of GetJwks and ValidateToken calls, ms (default 5000). */
  callTimeoutMs?: number;
  /** Told about every stream state change (connecting, connected, disconnected, closed). */
  onStreamStatus?: (status: StreamStatus) => void;
  /** Told about every revocation event applied. */
  onRevocation?: (event: RevocationEvent) => void;
  /** Told about failures the verifier recovers from (a failed JWKS fetch). */
  onError?: (error: unknown) => void;
  /** grpc-js client interceptors (tracing, metrics) for every call the verifier makes. */
  interceptors?: Interceptor[];
  /** Extra grpc-js channel options. */
  channelOptions?: ChannelOptions;
}

/** What the verifier knows right now, for health checks and dashboards. */
export interface VerifierStatus {
  ready: boolean;
  stream: StreamStatus;
  /** Local time of the last stream message, or null. */
  lastHeardAt: Date | null;
  /** The access-token lifetime from the last heartbeat (ms), or null before one. */
  accessTokenTtlMs: number | null;
  /** True when verify() refuses access tokens because the stream has been down too long. */
  failingClosed: boolean;
  revocationsApplied: number;
  jwksFetches: number;
  denyList: { sessions: number; subjects: number; memberships: number; apiKeys: number };
  cachedTokens: number;
  cachedApiKeys: number;
}

export interface Verifier {
  /**
   * Verifies an access token locally, or an API key through ValidateToken. Resolves with who it
   * stands for; rejects with a VerifierError (`code` says why).
   */
  verify(token: string): Promise<Identity>;
  /** Resolves once the JWKS and the revocation stream's first heartbeat have arrived. */
  ready(): Promise<void>;
  status(): VerifierStatus;
  /** Ends the stream, timers and channel; later verify() calls reject with CLOSED. */
  close(): void;
}

// Gatehouse's own test: three base64url segments, empty ones too (`alg: none` has no signature).
const JWT_SHAPE = /^[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;
const MAX_TOKEN_LENGTH = 8192;
/** Tokens issued this close to the start of coverage are treated as issued before it. */
const COVERAGE_SLACK_MS = 1000;

/** A verified token as remembered, with the online check a suspect token needed. */
interface CachedToken extends VerifiedToken {
  /** Local time of a ValidateToken that said active, if one was needed. */
  onlineCheckedAtMs?: number;
  pendingCheck?: Promise<void>;
}

/**
 * A verifier for resource servers: access tokens are verified locally (signature with the
 * JWKS, claims, and an in-memory deny-list fed by AuthService.WatchRevocations), API keys through
 * ValidateToken with a short cache. See the package README for the rules.
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const issuer = options.issuer ?? 'gatehouse';
  const audience = options.audience ?? 'gatehouse';
  const clockToleranceSec = options.clockToleranceSec ?? 5;
  const failOpen = options.failOpenAfterStreamLoss ?? false;
  const acceptApiKeys = options.acceptApiKeys ?? true;
  const callTimeoutMs = options.callTimeoutMs ?? 5000;
  const onError = options.onError ?? (() => {});
  let closed = false;
  let revocationsApplied = 0;

  const client = new AuthServiceClient(
    options.target,
    options.credentials.channel ?? grpcCredentials.createSsl(),
    // No client keepalive pings: Gatehouse closes connections that ping more often than
    // GRPC_MIN_PING_INTERVAL_MS (5 min), and the stream's heartbeats plus the stale-stream
    // watchdog already detect a dead connection.
    {
      ...options.channelOptions,
      ...(options.interceptors === undefined ? {} : { interceptors: options.interceptors }),
    },
  );
  const deadline = () => ({ deadline: Date.now() + callTimeoutMs });
  const unary = <Res>(
    fn: (md: Metadata, opts: { deadline: number }, cb: (e: Error | null, r: Res) => void) => void,
  ) =>
    new Promise<Res>((resolve, reject) =>
      fn(new Metadata(), deadline(), (e, r) => (e ? reject(e) : resolve(r))),
    );
  const validateToken = (accessToken: string) =>
    unary<ValidateTokenResponse>((md, o, cb) => client.validateToken({ accessToken }, md, o, cb));

  const keys = createKeySet({
    fetchJwks: async () =>
      (await unary<{ jwksJson: string }>((md, o, cb) => client.getJwks({}, md, o, cb))).jwksJson,
    refreshIntervalMs: options.jwksRefreshIntervalMs ?? 300_000,
    minRefetchIntervalMs: options.jwksMinRefetchIntervalMs ?? 10_000,
    onError,
  });

  const slackMs = clockToleranceSec * 1000;
  let feedTtlMs = () => 0;
  const denyList = createDenyList({ tokenLifetimeMs: () => feedTtlMs(), slackMs });
  const apiKeys = createApiKeyValidator({
    validate: validateToken,
    cacheMs: options.apiKeyCacheMs ?? 5000,
    maxEntries: 10_000,
  });
  const tokens = new LRUCache<string, CachedToken>({ max: options.tokenCacheSize ?? 10_000 });

  const feed = createRevocationFeed({
    open(afterCursor) {
      const md = new Metadata();
      md.set('authorization', `Bearer ${options.credentials.apiKey}`);
      return client.watchRevocations({ afterCursor }, md);
    },
    onRevocation(revocation: Revocation, event) {
      revocationsApplied++;
      denyList.add(revocation);
      apiKeys.evict(revocation);
      options.onRevocation?.(event);
    },
    onStatus: (s) => options.onStreamStatus?.(s),
    backoff: options.reconnectBackoff ?? { initialMs: 100, maxMs: 10_000 },
    staleAfterMs: options.streamStaleAfterMs ?? 60_000,
  });
  // Until the first heartbeat, entries are kept for a day: longer than any token lives.
  feedTtlMs = () => feed.accessTokenTtlMs() ?? 86_400_000;

  const pruner = setInterval(() => denyList.prune(Date.now()), 30_000);
  pruner.unref();

  const readyPromise = Promise.all([keys.ready, feed.firstHeartbeat]).then(() => {});
  readyPromise.catch(() => {});

  /** True once the stream has been down longer than the access-token lifetime. */
  function streamLost(now: number): boolean {
    if (feed.connected()) return false;
    const heard = feed.lastHeardAtMs();
    const ttl = feed.accessTokenTtlMs();
    return heard === null || ttl === null || now - heard > ttl;
  }

  /**
   * Whether a verified token still needs Gatehouse's word. A token issued before the
   * verifier's coverage began (its start, or a restart after the cursor expired) may have been
   * revoked before the stream could say so: Gatehouse is asked once, after coverage began, and
   * the answer holds for the token's life (the stream covers everything later). Throws
   * STREAM_UNAVAILABLE while a gap has no new coverage yet (unless failing open).
   */
  function needsOnlineCheck(entry: CachedToken): boolean {
    const coverage = feed.coverage();
    if (coverage === null) {
      if (failOpen) return false;
      throw new VerifierError(
        'STREAM_UNAVAILABLE',
        'the revocation stream is reconnecting after a gap; try again shortly',
      );
    }
    if (entry.facts.issuedAtSec * 1000 > coverage.sinceServerMs + COVERAGE_SLACK_MS) return false;
    return entry.onlineCheckedAtMs === undefined || entry.onlineCheckedAtMs < coverage.sinceLocalMs;
  }

  /** Asks ValidateToken about a token once (concurrent verifies share the call). */
  async function checkOnline(entry: CachedToken, token: string): Promise<Identity> {
    entry.pendingCheck ??= (async () => {
      const startedAt = Date.now();
      let res: ValidateTokenResponse;
      try {
        res = await validateToken(token);
      } catch (error) {
        throw new VerifierError(
          'UNAVAILABLE',
          'the token predates the revocation stream and Gatehouse could not be asked about it',
          { cause: error },
        );
      }
      if (!res.active) {
        tokens.delete(token);
        throw new VerifierError('TOKEN_REVOKED', 'Gatehouse reports the token is no longer active');
      }
      entry.onlineCheckedAtMs = startedAt;
    })().finally(() => {
      entry.pendingCheck = undefined;
    });
    await entry.pendingCheck;
    return entry.identity;
  }

  /**
   * The checks every verify() of an already verified token makes, synchronously: expiry, key
   * still published, deny-list, stream health. Returns the identity, or null when Gatehouse
   * must be asked once (see needsOnlineCheck). Throws VerifierError.
   */
  function recheck(entry: CachedToken, token: string): Identity | null {
    const now = Date.now();
    if (now > entry.expiresAtMs + slackMs) {
      tokens.delete(token);
      throw new VerifierError('TOKEN_EXPIRED', 'the token has expired');
    }
    if (denyList.denies(entry.facts)) {
      throw new VerifierError('TOKEN_REVOKED', 'the token has been revoked');
    }
    if (streamLost(now)) {
      if (failOpen) return entry.identity;
      throw new VerifierError(
        'STREAM_UNAVAILABLE',
        'revocation stream unavailable for longer than the access-token lifetime; refusing tokens (failOpenAfterStreamLoss is off)',
      );
    }
    return needsOnlineCheck(entry) ? null : entry.identity;
  }

  async function verifyJwt(token: string): Promise<Identity> {
    const entry = await verifyAccessToken(token, keys, { issuer, audience, clockToleranceSec });
    tokens.set(token, entry);
    return recheck(entry, token) ?? checkOnline(entry, token);
  }

  const notReady = () =>
    new VerifierError(
      'NOT_READY',
      'the verifier has not heard from the revocation stream yet (await ready())',
    );

  /** verify() without the `async` wrapper: a remembered token costs no extra promise hop. */
  function verify(token: string): Promise<Identity> {
    try {
      if (closed) throw new VerifierError('CLOSED', 'the verifier has been closed');
      const entry = tokens.get(token);
      // Remembered only while its key is still published; otherwise verified again (and refused).
      if (entry !== undefined && keys.get(entry.kid) !== undefined) {
        if (feed.lastHeardAtMs() === null) throw notReady();
        const identity = recheck(entry, token);
        return identity !== null ? Promise.resolve(identity) : checkOnline(entry, token);
      }
      if (typeof token !== 'string' || token === '' || token.length > MAX_TOKEN_LENGTH) {
        throw new VerifierError('INVALID_TOKEN', 'the credential is empty or too long');
      }
      if (JWT_SHAPE.test(token)) {
        if (feed.lastHeardAtMs() === null) throw notReady();
        return verifyJwt(token);
      }
      if (!acceptApiKeys) {
        throw new VerifierError('INVALID_TOKEN', 'not a JWT, and API keys are not accepted here');
      }
      return apiKeys.verify(token);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  return {
    verify,
    ready: () => readyPromise,
    status() {
      const heard = feed.lastHeardAtMs();
      return {
        ready: heard !== null && keys.fetches() > 0 && feed.accessTokenTtlMs() !== null,
        stream: feed.status(),
        lastHeardAt: heard === null ? null : new Date(heard),
        accessTokenTtlMs: feed.accessTokenTtlMs(),
        failingClosed: !failOpen && heard !== null && streamLost(Date.now()),
        revocationsApplied,
        jwksFetches: keys.fetches(),
        denyList: denyList.size(),
        cachedTokens: tokens.size,
        cachedApiKeys: apiKeys.size(),
      };
    },
    close() {
      if (closed) return;
      closed = true;
      clearInterval(pruner);
      feed.close();
      keys.close();
      client.close();
    },
  };
}
