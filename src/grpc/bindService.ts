import { randomUUID } from 'node:crypto';
import {
  type handleServerStreamingCall,
  type handleUnaryCall,
  Metadata,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type sendUnaryData,
  status,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { AppError } from '../errors/AppError.ts';
import type { Logger } from '../log.ts';
import type { CallContext, IncomingCall } from '../policy/CallContext.ts';
import { type ChainDeps, type ChainHandler, createCallChain } from '../policy/createCallChain.ts';
import type { MethodPolicy } from '../policy/MethodPolicy.ts';
import { parseBearer } from './bearerToken.ts';
import type { ClientAddressResolver } from './clientAddress.ts';
import { toServiceError } from './toServiceError.ts';

/**
 * Where a server-streaming handler writes its messages. `write` resolves once the message is
 * accepted: at once while the client keeps up, else when the stream drains (backpressure);
 * it rejects once the call is over (cancelled, past its deadline, or the server stops).
 */
export interface ResponseStream<Res> {
  write(message: Res): Promise<void>;
}

/**
 * Typed handlers for a ts-proto `XxxServer` interface, one per RPC (a missing one fails to
 * compile): a unary RPC's answers its response; a server-streaming RPC's writes to `stream`
 * and resolves when the stream is complete (or when `ctx.signal` aborts: the client
 * cancelled, the deadline passed or the server is shutting down).
 */
export type UnaryHandlers<S> = {
  [K in keyof S as string extends K ? never : K]-?: S[K] extends handleUnaryCall<
    infer Req,
    infer Res
  >
    ? (req: Req, ctx: CallContext) => Promise<Res>
    : S[K] extends handleServerStreamingCall<infer Req, infer Res>
      ? (req: Req, ctx: CallContext, stream: ResponseStream<Res>) => Promise<void>
      : never;
};

/** A server-streaming handler as bindService sees it. */
type StreamHandler = (
  request: unknown,
  ctx: CallContext,
  stream: ResponseStream<unknown>,
) => Promise<void>;

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

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

function firstString(md: Metadata, key: string): string | undefined {
  const v = md.get(key)[0];
  return typeof v === 'string' ? v : undefined;
}

/**
 * Wraps handlers as a grpc-js service implementation: request id, client address, deadline
 * signal, the method's policy chain (src/policy), structured access log, and the single error
 * mapping. Unary and server-streaming RPCs take the same path: a stream's caller passes the
 * whole policy before its first message. A method without a call policy stops the start; one
 * without a handler answers UNIMPLEMENTED with ErrorInfo, after its policy admitted the caller.
 */
export function bindService(
  definition: ServiceDefinition,
  handlers: object,
  deps: BindDeps,
): UntypedServiceImplementation {
  const impl: UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(definition)) {
    const policy = deps.policies.get(method.path);
    if (policy === undefined) {
      throw new Error(`${method.path} has no call policy (is src/gen out of date?)`);
    }
    if (method.requestStream) {
      throw new Error(`${method.path}: client-streaming RPCs are not supported by bindService`);
    }
    const chain = createCallChain(policy, deps.chain);
    const given = (handlers as Record<string, ChainHandler | StreamHandler | undefined>)[name];
    const missing = () =>
      Promise.reject(new AppError('NOT_IMPLEMENTED', `${method.path} is not implemented yet`));
    if (method.responseStream) {
      const handler: StreamHandler = (given as StreamHandler | undefined) ?? missing;
      impl[name] = (call: ServerWritableStream<unknown, unknown>) => {
        void runStream(method.path, call, deps, (incoming, stream) =>
          chain(incoming, (request, ctx) => handler(request, ctx, stream)),
        );
      };
    } else {
      const handler: ChainHandler = (given as ChainHandler | undefined) ?? missing;
      impl[name] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
        void runCall(method.path, call, callback, deps, (incoming) => chain(incoming, handler));
      };
    }
  }
  return impl;
}

/** What unary and streaming calls share: ids, logger, the abort signal and the access line. */
interface CallScope {
  incoming: IncomingCall;
  abort: AbortController;
  /** The call's logger (built on first use). */
  log(): Logger;
  /** Sends `x-request-id` (once; before the first message or the status). */
  sendRequestId(): void;
  /** Marks the call complete (a later 'cancelled' is grpc-js noise), logs and measures it. */
  finish(code: status): void;
}

function openCall(
  path: string,
  call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>,
  deps: BindDeps,
): CallScope {
  const started = performance.now();
  const md = call.metadata;
  const incomingId = firstString(md, 'x-request-id');
  const requestId = incomingId && REQUEST_ID.test(incomingId) ? incomingId : randomUUID();
  const clientIp = deps.clientAddress(call.getPeer(), firstString(md, 'x-forwarded-for'));
  const userAgent = (firstString(md, 'user-agent') ?? '').slice(0, 512);
  // The child logger is built only when something logs (most calls only write the access line).
  let log: Logger | undefined;
  const callLog = () => {
    log ??= deps.log.child({ requestId, method: path });
    return log;
  };
  const abort = new AbortController();
  let finished = false;
  // grpc-js also emits 'cancelled' after a call has completed normally: only a real one counts.
  (call as ServerUnaryCall<unknown, unknown>).on('cancelled', () => {
    if (!finished) abort.abort(new AppError('DEADLINE_EXCEEDED', 'call cancelled'));
  });
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : Number(deadline);
  let timer: NodeJS.Timeout | undefined;
  if (Number.isFinite(deadlineMs)) {
    timer = setTimeout(
      () => abort.abort(new AppError('DEADLINE_EXCEEDED', 'deadline exceeded')),
      Math.max(0, deadlineMs - Date.now()),
    );
  }
  let sentId = false;
  return {
    incoming: {
      path,
      request: call.request,
      info: { clientIp, userAgent, requestId },
      get log() {
        return callLog();
      },
      signal: abort.signal,
      bearer: () => parseBearer(firstString(md, 'authorization')),
    },
    abort,
    log: callLog,
    sendRequestId() {
      if (sentId) return;
      sentId = true;
      const responseMd = new Metadata();
      responseMd.set('x-request-id', requestId);
      call.sendMetadata(responseMd);
    },
    finish(code) {
      finished = true;
      if (timer) clearTimeout(timer);
      const durationMs = performance.now() - started;
      deps.onCallEnd?.(path, code, durationMs);
      if (deps.log.isLevelEnabled('info')) {
        callLog().info(
          { code: status[code], durationMs: Math.round(durationMs * 10) / 10, peer: clientIp },
          'call',
        );
      }
    },
  };
}

async function runCall(
  path: string,
  call: ServerUnaryCall<unknown, unknown>,
  callback: sendUnaryData<unknown>,
  deps: BindDeps,
  run: (incoming: IncomingCall) => Promise<unknown>,
): Promise<void> {
  const scope = openCall(path, call, deps);
  let code: status = status.OK;
  try {
    const response = await run(scope.incoming);
    if (scope.abort.signal.aborted) throw scope.abort.signal.reason;
    // Sent right before the answer, so headers and message leave in one write.
    scope.sendRequestId();
    callback(null, response);
  } catch (error) {
    const serviceError = toServiceError(error, scope.log());
    code = serviceError.code;
    scope.sendRequestId();
    callback(serviceError);
  } finally {
    scope.finish(code);
  }
}

async function runStream(
  path: string,
  call: ServerWritableStream<unknown, unknown>,
  deps: BindDeps,
  run: (incoming: IncomingCall, stream: ResponseStream<unknown>) => Promise<unknown>,
): Promise<void> {
  const scope = openCall(path, call, deps);
  const signal = scope.abort.signal;
  const onShutdown = () =>
    scope.abort.abort(
      new AppError('SHUTTING_DOWN', 'the server is shutting down; reconnect and resume'),
    );
  if (deps.shutdown?.aborted) onShutdown();
  else deps.shutdown?.addEventListener('abort', onShutdown, { once: true });
  let clientGone = false;
  call.on('cancelled', () => {
    clientGone = true;
  });
  const stream: ResponseStream<unknown> = {
    write(message) {
      if (signal.aborted) return Promise.reject(signal.reason);
      scope.sendRequestId();
      if (call.write(message)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const done = () => {
          call.off('drain', drained);
          signal.removeEventListener('abort', aborted);
        };
        const drained = () => {
          done();
          resolve();
        };
        const aborted = () => {
          done();
          reject(signal.reason);
        };
        call.on('drain', drained);
        signal.addEventListener('abort', aborted);
      });
    },
  };
  let code: status = status.OK;
  try {
    await run(scope.incoming, stream);
    if (signal.aborted) throw signal.reason;
    scope.sendRequestId();
    call.end();
  } catch (error) {
    if (clientGone) {
      code = status.CANCELLED;
    } else {
      const serviceError = toServiceError(error, scope.log());
      code = serviceError.code;
      scope.sendRequestId();
      // grpc-js turns an 'error' on a server stream into its status, sent after what is queued.
      call.emit('error', serviceError);
    }
  } finally {
    deps.shutdown?.removeEventListener('abort', onShutdown);
    scope.finish(code);
  }
}
