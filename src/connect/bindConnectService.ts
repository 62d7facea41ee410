import { type DescService, fromBinary, type Message, toBinary } from '@bufbuild/protobuf';
import {
  Code,
  type ConnectError,
  type ConnectRouter,
  type HandlerContext,
  type ServiceImpl,
} from '@connectrpc/connect';
import { type ServiceError, status } from '@grpc/grpc-js';
import { context } from '@opentelemetry/api';
import { AppError } from '../errors/AppError.ts';
import { toServiceError } from '../grpc/toServiceError.ts';
import {
  type BegunCall,
  type BindDeps,
  beginCall,
  bindMethods,
  type ResponseStream,
  type WireProtocol,
} from '../transport/beginCall.ts';
import { peerKey } from './peerKey.ts';
import { type TracedCall, traceCall } from './traceCall.ts';

export interface ConnectBindDeps extends BindDeps {
  /** toServiceError's status as a ConnectError (createConnectErrors). */
  toConnectError(error: ServiceError): ConnectError;
}

const bufferOf = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);

/**
 * Serves a ts-proto service through the Connect router (Connect, gRPC-Web and JSON) with the
 * very handlers and policy chains the gRPC server uses (bindMethods): messages cross between
 * protobuf-es (the router's, from the descriptors) and ts-proto (the handlers') as protobuf
 * binary, so both sides read the same bytes the gRPC server would. Errors take the one mapping
 * (toServiceError) and leave with the same code and google.rpc details.
 */
export function bindConnectService(
  router: ConnectRouter,
  service: DescService,
  definition: Parameters<typeof bindMethods>[0],
  handlers: object,
  deps: ConnectBindDeps,
): void {
  const impl: Record<string, unknown> = {};
  for (const method of bindMethods(definition, handlers, deps)) {
    const path = method.definition.path;
    const desc = service.methods.find((m) => `/${service.typeName}/${m.name}` === path);
    if (desc === undefined)
      throw new Error(`${path} is not in the descriptors of ${service.typeName}`);
    const toHandler = (request: Message) =>
      method.definition.requestDeserialize(bufferOf(toBinary(desc.input, request)));
    const toWire = (response: unknown) =>
      fromBinary(desc.output, method.definition.responseSerialize(response));
    if (method.streaming) {
      const run = method.run;
      impl[desc.localName] = (request: Message, ctx: HandlerContext) =>
        streamCall(path, toHandler(request), ctx, deps, run, toWire);
    } else {
      const run = method.run;
      impl[desc.localName] = (request: Message, ctx: HandlerContext) => {
        const call = openCall(path, toHandler(request), ctx, deps);
        // The whole call in its span's context: child spans and the access line's trace id.
        return context.with(call.trace.context, async () => {
          let code: status = status.OK;
          try {
            const response = await run(call.begun.incoming);
            if (call.signal.aborted) throw call.signal.reason;
            return toWire(response);
          } catch (error) {
            const serviceError = toServiceError(error, call.begun.log());
            code = serviceError.code;
            throw deps.toConnectError(serviceError);
          } finally {
            call.close(code);
          }
        });
      };
    }
  }
  router.service(service, impl as Partial<ServiceImpl<DescService>>);
}

interface ConnectCall {
  begun: BegunCall;
  trace: TracedCall;
  signal: AbortSignal;
  abort(reason: unknown): void;
  /** Logs, measures and ends the span of the call. */
  close(code: status): void;
}

/**
 * Starts a call from the router's context: headers, the connection's address, and a signal
 * that aborts with the AppError the chain expects when the client goes or the deadline
 * (connect-timeout-ms, grpc-timeout) passes.
 */
function openCall(
  path: string,
  request: unknown,
  ctx: HandlerContext,
  deps: BindDeps,
): ConnectCall {
  const abort = new AbortController();
  const onAbort = () => {
    const reason = ctx.signal.reason as { code?: unknown } | undefined;
    abort.abort(
      new AppError(
        'DEADLINE_EXCEEDED',
        reason?.code === Code.DeadlineExceeded ? 'deadline exceeded' : 'call cancelled',
      ),
    );
  };
  if (ctx.signal.aborted) onAbort();
  else ctx.signal.addEventListener('abort', onAbort, { once: true });
  const header = (name: string) => ctx.requestHeader.get(name) ?? undefined;
  const protocol = ctx.protocolName as WireProtocol;
  const traced = traceCall(path, protocol, ctx.requestHeader);
  const begun = beginCall(
    path,
    request,
    {
      protocol,
      requestId: header('x-request-id'),
      peer: ctx.values.get(peerKey),
      forwardedFor: header('x-forwarded-for'),
      userAgent: header('user-agent'),
      authorization: header('authorization'),
    },
    abort,
    deps,
  );
  ctx.responseHeader.set('x-request-id', begun.requestId);
  return {
    begun,
    trace: traced,
    signal: abort.signal,
    abort: (reason) => abort.abort(reason),
    close(code) {
      ctx.signal.removeEventListener('abort', onAbort);
      begun.finish(code);
      traced.end(code);
    },
  };
}

/**
 * A server-streaming call as the async iterable the router writes: the handler writes into a
 * hand-off the iterable drains, one message at a time (a write resolves once the router took
 * the message, so a slow client holds the handler back). Shutdown ends the stream with
 * UNAVAILABLE SHUTTING_DOWN, as on the gRPC server.
 */
async function* streamCall(
  path: string,
  request: unknown,
  ctx: HandlerContext,
  deps: ConnectBindDeps,
  run: (incoming: BegunCall['incoming'], stream: ResponseStream<unknown>) => Promise<unknown>,
  toWire: (message: unknown) => Message,
): AsyncGenerator<Message> {
  const call = openCall(path, request, ctx, deps);
  const onShutdown = () =>
    call.abort(new AppError('SHUTTING_DOWN', 'the server is shutting down; reconnect and resume'));
  if (deps.shutdown?.aborted) onShutdown();
  else deps.shutdown?.addEventListener('abort', onShutdown, { once: true });

  type Pending = { message: unknown; taken(): void; dropped(reason: unknown): void };
  const pending: Pending[] = [];
  let wake: (() => void) | undefined;
  const nudge = () => {
    wake?.();
    wake = undefined;
  };
  const signal = call.signal;
  signal.addEventListener('abort', nudge);
  const stream: ResponseStream<unknown> = {
    write(message) {
      if (signal.aborted) return Promise.reject(signal.reason);
      return new Promise<void>((taken, dropped) => {
        pending.push({ message, taken, dropped });
        nudge();
      });
    },
  };
  let outcome: { ok: true } | { ok: false; error: unknown } | undefined;
  void context
    .with(call.trace.context, () => run(call.begun.incoming, stream))
    .then(
      () => {
        outcome = { ok: true };
        nudge();
      },
      (error: unknown) => {
        outcome = { ok: false, error };
        nudge();
      },
    );

  let code: status = status.OK;
  // The message the router holds: taken once it asks for the next one, dropped if it never does.
  let current: Pending | undefined;
  try {
    for (;;) {
      current = pending.shift();
      if (current !== undefined) {
        yield toWire(current.message);
        current.taken();
        current = undefined;
        continue;
      }
      if (outcome !== undefined) break;
      if (signal.aborted) {
        outcome = { ok: false, error: signal.reason };
        break;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
    if (!outcome.ok) throw outcome.error;
    if (signal.aborted) throw signal.reason;
  } catch (error) {
    if (ctx.signal.aborted && !deps.shutdown?.aborted) {
      code = status.CANCELLED;
      return;
    }
    const serviceError = toServiceError(error, call.begun.log());
    code = serviceError.code;
    throw deps.toConnectError(serviceError);
  } finally {
    // The router stops pulling when the client goes: the handler must stop too.
    if (!signal.aborted) call.abort(new AppError('DEADLINE_EXCEEDED', 'call cancelled'));
    current?.dropped(signal.reason);
    for (const p of pending.splice(0)) p.dropped(signal.reason);
    signal.removeEventListener('abort', nudge);
    deps.shutdown?.removeEventListener('abort', onShutdown);
    call.close(code);
  }
}
