import { constants, type ServerHttp2Session } from 'node:http2';
import type { Server } from '@grpc/grpc-js';
import type { Logger } from '../log.ts';

export interface PingPolicy {
  /** A PING arriving sooner than this after the previous one is a strike. */
  minIntervalMs: number;
  /** Strikes tolerated; one more closes the connection. A new call clears them. */
  maxStrikes: number;
}

/** gRPC's own default (C core and Go): two early pings are forgiven, the third is not. */
export const DEFAULT_MAX_PING_STRIKES = 2;

/** How long calls still running on a connection closed for too many pings may take to finish. */
const CLOSE_GRACE_MS = 1000;
const TOO_MANY_PINGS = Buffer.from('too_many_pings');

interface Http2ServerLike {
  on(event: 'session', listener: (session: ServerHttp2Session) => void): unknown;
}
interface BoundServerInternals {
  http2Servers?: Map<Http2ServerLike, { sessions?: Set<ServerHttp2Session> }>;
}

/**
 * Enforces a minimum interval between the HTTP/2 PINGs a client sends, as gRPC servers do
 * (C core's `grpc.http2.min_ping_interval_without_data_ms` with max ping strikes, Go's
 * keepalive.EnforcementPolicy): after more than `maxStrikes` early pings without a call in
 * between, the server sends GOAWAY ENHANCE_YOUR_CALM with debug data `too_many_pings` and closes
 * the connection. Pings are permitted with and without calls in flight.
 *
 * grpc-js 1.14 implements none of this on the server (its ping options are client-side) and
 * exposes its HTTP/2 servers only internally, so this reaches them through `http2Servers`: call
 * it after `bindAsync` has finished. It throws if that internal is missing (a grpc-js upgrade
 * changed it), rather than leave pings silently unpoliced.
 */
export function enforcePingPolicy(server: Server, policy: PingPolicy, log: Logger): void {
  const http2Servers = (server as unknown as BoundServerInternals).http2Servers;
  if (!(http2Servers instanceof Map) || http2Servers.size === 0) {
    throw new Error(
      'cannot enforce the ping policy: this grpc-js version does not expose its HTTP/2 servers',
    );
  }
  for (const [http2Server, info] of http2Servers) {
    http2Server.on('session', (session) => policeSession(session, policy, log));
    // Connections accepted before this call (there should be none) are policed too.
    for (const session of info.sessions ?? []) policeSession(session, policy, log);
  }
}

function policeSession(session: ServerHttp2Session, policy: PingPolicy, log: Logger): void {
  let lastPingAt = Number.NEGATIVE_INFINITY;
  let strikes = 0;
  let lastStreamId = 0;
  let closing = false;
  session.on('stream', (stream) => {
    strikes = 0;
    lastStreamId = Math.max(lastStreamId, stream.id ?? 0);
  });
  session.on('ping', () => {
    if (closing) return;
    const now = performance.now();
    if (now - lastPingAt < policy.minIntervalMs) strikes++;
    lastPingAt = now;
    if (strikes <= policy.maxStrikes) return;
    closing = true;
    log.warn(
      { peer: session.socket?.remoteAddress, minPingIntervalMs: policy.minIntervalMs },
      'client pings too often: closing its connection (GOAWAY ENHANCE_YOUR_CALM too_many_pings)',
    );
    try {
      session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM, lastStreamId, TOO_MANY_PINGS);
      session.close();
    } catch {
      session.destroy();
      return;
    }
    setTimeout(() => session.destroy(), CLOSE_GRACE_MS).unref();
  });
}
