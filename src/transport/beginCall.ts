import { randomUUID } from 'node:crypto';
import { type MethodDefinition, type ServiceDefinition, status } from '@grpc/grpc-js';
import type { RequestInfo } from '../auth/AuthDeps.ts';
import { AppError } from '../errors/AppError.ts';
import { type BearerToken, parseBearer } from '../grpc/bearerToken.ts';
import type { ClientAddressResolver } from '../grpc/clientAddress.ts';
import type { Logger } from '../log.ts';
import type { CallContext, IncomingCall } from '../policy/CallContext.ts';
import { type ChainDeps, type ChainHandler, createCallChain } from '../policy/createCallChain.ts';
import type { MethodPolicy } from '../policy/MethodPolicy.ts';

/** What every transport binding (gRPC, Connect) needs to run a call through its policy. */
export interface BindDeps {
  log: Logger;
  clientAddress: ClientAddressResolver;
  /** Every method's call policy, by gRPC path (loadMethodPolicies). */
  policies: ReadonlyMap<string, MethodPolicy>;
  /** What the policy steps need. */
  chain: ChainDeps;
  /** Observes every finished call (metrics). */
  onCallEnd?(method: string, code: status, durationMs: number): void;
  /**
   * Aborted when the server starts draining: open streams end at once with UNAVAILABLE
   * SHUTTING_DOWN (unary calls in flight finish), so a shutdown is not held up by them.
   */
  shutdown?: AbortSignal;
}

/** The wire protocol a call came in on (the access line's `protocol`). */
export type WireProtocol = 'grpc' | 'connect' | 'grpc-web';

/** What a call's headers (gRPC metadata or HTTP headers) and connection say about it. */
export interface CallOrigin {
  protocol: WireProtocol;
  /** The caller's `x-request-id`, unchecked. */
  requestId: string | undefined;
  /** The connection's remote address ("1.2.3.4:5", "[::1]:5", "ipv4:1.2.3.4:5"). */
  peer: string;
  forwardedFor: string | undefined;
  userAgent: string | undefined;
  authorization: string | undefined;
}

/** A call begun: what the policy chain reads, and how it ends. */
export interface BegunCall {
  incoming: IncomingCall;
  requestId: string;
  /** The call's logger (built on first use). */
  log(): Logger;
  /** Logs and measures the call. */
  finish(code: status): void;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** Where a call's abort signal comes from: an AbortController, or one made on first use. */
export interface AbortSource {
  readonly signal: AbortSignal;
}

/**
 * What the policy chain reads of a call. A class, so a call costs one small object: the
 * logger is built on first use (most calls only write the access line), and the credential
 * is parsed only by the steps that read one.
 */
class Incoming implements IncomingCall {
  readonly path: string;
  readonly request: unknown;
  readonly info: RequestInfo;
  readonly #abort: AbortSource;
  readonly #authorization: string | undefined;
  readonly #baseLog: Logger;
  #log: Logger | undefined;

  constructor(
    path: string,
    request: unknown,
    info: RequestInfo,
    abort: AbortSource,
    authorization: string | undefined,
    log: Logger,
  ) {
    this.path = path;
    this.request = request;
    this.info = info;
    this.#abort = abort;
    this.#authorization = authorization;
    this.#baseLog = log;
  }

  get log(): Logger {
    this.#log ??= this.#baseLog.child({ requestId: this.info.requestId, method: this.path });
    return this.#log;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  bearer(): BearerToken {
    return parseBearer(this.#authorization);
  }
}

/**
 * The transport-neutral start of every call: the request id (the caller's when well-formed),
 * the client address (TRUSTED_PROXIES), the user agent, the lazily built call logger, and at
 * the end one access line and the call metrics — the same for each wire protocol.
 */
export function beginCall(
  path: string,
  request: unknown,
  origin: CallOrigin,
  abort: AbortSource,
  deps: BindDeps,
): BegunCall {
  const started = performance.now();
  const requestId =
    origin.requestId && REQUEST_ID.test(origin.requestId) ? origin.requestId : randomUUID();
  const clientIp = deps.clientAddress(origin.peer, origin.forwardedFor);
  const userAgent = (origin.userAgent ?? '').slice(0, 512);
  const incoming = new Incoming(
    path,
    request,
    { clientIp, userAgent, requestId },
    abort,
    origin.authorization,
    deps.log,
  );
  return {
    incoming,
    requestId,
    log: () => incoming.log,
    finish(code) {
      const durationMs = performance.now() - started;
      deps.onCallEnd?.(path, code, durationMs);
      if (deps.log.isLevelEnabled('info')) {
        incoming.log.info(
          {
            code: status[code],
            durationMs: Math.round(durationMs * 10) / 10,
            peer: clientIp,
            protocol: origin.protocol,
          },
          'call',
        );
      }
    },
  };
}

/**
 * Where a server-streaming handler writes its messages. `write` resolves once the message is
 * accepted: at once while the client keeps up, else when the stream drains (backpressure);
 * it rejects once the call is over (cancelled, past its deadline, or the server stops).
 */
export interface ResponseStream<Res> {
  write(message: Res): Promise<void>;
}

/** A server-streaming handler as the bindings see it. */
export type StreamHandler = (
  request: unknown,
  ctx: CallContext,
  stream: ResponseStream<unknown>,
) => Promise<void>;

/** One RPC of a service, ready to serve: its policy chain in front of its handler. */
export type BoundMethod = {
  /** The handler's key in the ts-proto definition (`login`). */
  name: string;
  definition: MethodDefinition<unknown, unknown>;
} & (
  | { streaming: false; run(incoming: IncomingCall): Promise<unknown> }
  | {
      streaming: true;
      run(incoming: IncomingCall, stream: ResponseStream<unknown>): Promise<unknown>;
    }
);

/**
 * Every RPC of a ts-proto service definition with its policy chain and handler: the part of a
 * binding no transport does differently. A method without a call policy stops the start; one
 * without a handler answers UNIMPLEMENTED with ErrorInfo, after its policy admitted the caller.
 */
export function bindMethods(
  definition: ServiceDefinition,
  handlers: object,
  deps: Pick<BindDeps, 'policies' | 'chain'>,
): BoundMethod[] {
  return Object.entries(definition).map(([name, method]): BoundMethod => {
    const policy = deps.policies.get(method.path);
    if (policy === undefined) {
      throw new Error(`${method.path} has no call policy (is src/gen out of date?)`);
    }
    if (method.requestStream) {
      throw new Error(`${method.path}: client-streaming RPCs are not supported`);
    }
    const chain = createCallChain(policy, deps.chain);
    const given = (handlers as Record<string, ChainHandler | StreamHandler | undefined>)[name];
    const missing = () =>
      Promise.reject(new AppError('NOT_IMPLEMENTED', `${method.path} is not implemented yet`));
    if (method.responseStream) {
      const handler: StreamHandler = (given as StreamHandler | undefined) ?? missing;
      return {
        name,
        definition: method,
        streaming: true,
        run: (incoming, stream) => chain(incoming, (request, ctx) => handler(request, ctx, stream)),
      };
    }
    const handler: ChainHandler = (given as ChainHandler | undefined) ?? missing;
    return {
      name,
      definition: method,
      streaming: false,
      run: (incoming) => chain(incoming, handler),
    };
  });
}
