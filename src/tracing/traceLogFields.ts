import { isSpanContextValid, trace } from '@opentelemetry/api';

const none = {};

/**
 * pino mixin: `trace_id` and `span_id` of the span active where the line is logged (a call's
 * server span or one inside it), nothing outside a trace. One context lookup per line.
 */
export function traceLogFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (span === undefined) return none;
  const context = span.spanContext();
  if (!isSpanContextValid(context)) return none;
  return { trace_id: context.traceId, span_id: context.spanId };
}
