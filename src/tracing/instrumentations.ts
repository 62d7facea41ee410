/**
 * The one list of what is traced. Each instrumentation patches one library, and its module
 * name goes into INSTRUMENTED_MODULES so the ESM loader hook wraps exactly those imports.
 * Adding a transport (an HTTP server, say) means one more entry in both.
 *
 * What the spans may carry is decided here: RPC method and status, SQL text with its $n
 * placeholders, Redis command names. Never request metadata, SQL parameter values, Redis keys
 * or arguments: those hold emails, user and session ids and token hashes.
 */
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';

/** Package names, as the application imports them, that createInstrumentations patches. */
export const INSTRUMENTED_MODULES = ['@grpc/grpc-js', 'pg', 'ioredis'] as const;

/** The instrumentations, configured to record nothing that identifies a user or a secret. */
export function createInstrumentations() {
  return [
    // Server spans for every call (grpc.<service>/<method>, rpc.grpc.status_code), with the
    // caller's W3C traceparent as parent. No metadata is copied (metadataToSpanAttributes unset).
    new GrpcInstrumentation(),
    new PgInstrumentation({
      // db.statement is slonik's parameterised SQL ($1, $2, ...); values stay out.
      enhancedDatabaseReporting: false,
      // Background work (key refresh, cleanup, LISTEN) would otherwise make a root trace per query.
      requireParentSpan: true,
      addSqlCommenterCommentToQueries: false,
    }),
    new IORedisInstrumentation({
      // Keys embed user and session ids: the statement is the command name alone.
      dbStatementSerializer: (command) => command,
      requireParentSpan: true,
    }),
  ];
}
