import { status } from '@grpc/grpc-js';
import {
  type Context,
  context,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  trace,
} from '@opentelemetry/api';
import type { WireProtocol } from '../transport/beginCall.ts';

// The Connect listener's server spans, as the grpc-js instrumentation makes them for gRPC
// (src/tracing): the caller's W3C traceparent as parent, a name and attributes of the method
// and status only. Without tracing configured, @opentelemetry/api answers with no-op spans.

const tracer = trace.getTracer('gatehouse-connect');

const headerGetter: TextMapGetter<Headers> = {
  keys: (headers) => [...headers.keys()],
  get: (headers, key) => headers.get(key) ?? undefined,
};

const SYSTEMS: Record<WireProtocol, string> = {
  connect: 'connect_rpc',
  'grpc-web': 'grpc_web',
  grpc: 'grpc',
};

/** Codes that are the server's fault, as OpenTelemetry's RPC conventions mark server spans. */
const SERVER_ERRORS = new Set<number>([
  status.UNKNOWN,
  status.DEADLINE_EXCEEDED,
  status.UNIMPLEMENTED,
  status.INTERNAL,
  status.UNAVAILABLE,
  status.DATA_LOSS,
]);

export interface TracedCall {
  /** The context to run the call in (its span active: child spans, log lines' trace ids). */
  context: Context;
  end(code: status): void;
}

/** Starts the server span of `/pkg.Service/Method`, continuing the caller's trace. */
export function traceCall(path: string, protocol: WireProtocol, headers: Headers): TracedCall {
  const parent = propagation.extract(context.active(), headers, headerGetter);
  const slash = path.lastIndexOf('/');
  const system = SYSTEMS[protocol];
  const span: Span = tracer.startSpan(
    `${system}.${path.slice(1)}`,
    {
      kind: SpanKind.SERVER,
      attributes: {
        'rpc.system': system,
        'rpc.service': path.slice(1, slash),
        'rpc.method': path.slice(slash + 1),
      },
    },
    parent,
  );
  return {
    context: trace.setSpan(parent, span),
    end(code) {
      span.setAttribute('rpc.grpc.status_code', code);
      if (SERVER_ERRORS.has(code)) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    },
  };
}
