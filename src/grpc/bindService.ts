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

import {
  type BindDeps,
  beginCall,
  bindMethods,
  type ResponseStream,
} from '../transport/beginCall.ts';
import { CallAbort } from './CallAbort.ts';
import { toServiceError } from './toServiceError.ts';

export type { ResponseStream } from '../transport/beginCall.ts';

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

function firstString(md: Metadata, key: string): string | undefined {
  const v = md.get(key)[0];
  return typeof v === 'string' ? v : undefined;
}

/**
 * Wraps handlers as a grpc-js service implementation: request id, client address, deadline
 * signal, the method's policy chain (src/policy, through bindMethods), structured access log, and
 * the single error mapping. Unary and server-streaming RPCs take the same path: a stream's
 * caller passes the whole policy before its first message.
 */
export function bindService(
  definition: ServiceDefinition,
  handlers: object,
  deps: BindDeps,
): UntypedServiceImplementation {
  const impl: UntypedServiceImplementation = {};
  for (const method of bindMethods(definition, handlers, deps)) {
    const path = method.definition.path;
    if (method.streaming) {
      impl[method.name] = (call: ServerWritableStream<unknown, unknown>) => {
        void runStream(path, call, deps, method.run);
      };
    } else {
      impl[method.name] = (
        call: ServerUnaryCall<unknown, unknown>,
        callback: sendUnaryData<unknown>,
      ) => {
        void runCall(path, call, callback, deps, method.run);
      };
    }
  }
  return impl;
}

/** What unary and streaming calls share: ids, logger, the abort signal and the access line. */
interface CallScope {
  incoming: IncomingCall;
  abort: CallAbort;
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
  const md = call.metadata;
  const deadline = call.getDeadline();
  const abort = new CallAbort(deadline instanceof Date ? deadline.getTime() : Number(deadline));
  const begun = beginCall(
    path,
    call.request,
    {
      protocol: 'grpc',
      requestId: firstString(md, 'x-request-id'),
      peer: call.getPeer(),
      forwardedFor: firstString(md, 'x-forwarded-for'),
      userAgent: firstString(md, 'user-agent'),
      authorization: firstString(md, 'authorization'),
    },
    abort,
    deps,
  );
  let finished = false;
  // grpc-js also emits 'cancelled' after a call has completed normally: only a real one counts.
  (call as ServerUnaryCall<unknown, unknown>).on('cancelled', () => {
    if (!finished) abort.abort(new AppError('DEADLINE_EXCEEDED', 'call cancelled'));
  });
  let sentId = false;
  return {
    incoming: begun.incoming,
    abort,
    log: begun.log,
    sendRequestId() {
      if (sentId) return;
      sentId = true;
      const responseMd = new Metadata();
      responseMd.set('x-request-id', begun.requestId);
      call.sendMetadata(responseMd);
    },
    finish(code) {
      finished = true;
      abort.close();
      begun.finish(code);
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
    if (scope.abort.aborted) throw scope.abort.reason;
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
