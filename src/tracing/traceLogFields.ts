import { isSpanContextValid, trace } from '@opentelemetry/api';

/**
 * pino mixin: `trace_id` and `span_id` of the span active where the line is logged (a call's
 * server span or one inside it), nothing outside a trace. One context lookup per line. Always a
 * new object: pino merges the line's fields into what the mixin returns.
 */
export function traceLogFields(): { trace_id?: string; span_id?: string } {
  const context = trace.getActiveSpan()?.spanContext();
  if (context === undefined || !isSpanContextValid(context)) return {};
  return { trace_id: context.traceId, span_id: context.spanId };
}
