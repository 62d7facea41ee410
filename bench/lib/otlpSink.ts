/**
 * A local OTLP/HTTP traces endpoint for the tracing scenario: accepts every export
 * (http/protobuf, the exporter's default, or http/json), answers 200 and keeps only counts. It
 * runs in the orchestrator's process, which is idle while the load generator measures, so what
 * receiving the spans costs is not counted as the server's.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Reads a protobuf varint at `at`: [value, next offset]. */
function varint(buf: Buffer, at: number): [number, number] {
  let value = 0;
  let shift = 0;
  let i = at;
  for (;;) {
    const byte = buf[i++] ?? 0;
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80 || i >= buf.length) return [value, i];
    shift += 7;
  }
}

/** The length-delimited fields numbered `field` of a protobuf message. */
function* submessages(buf: Buffer, field: number): Generator<Buffer> {
  let i = 0;
  while (i < buf.length) {
    const [key, afterKey] = varint(buf, i);
    const wire = key & 7;
    i = afterKey;
    if (wire === 0) [, i] = varint(buf, i);
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const [length, start] = varint(buf, i);
      if (key >>> 3 === field) yield buf.subarray(start, start + length);
      i = start + length;
    } else return; // groups are not used by OTLP
  }
}

/** Spans in an ExportTraceServiceRequest: resource_spans (1) > scope_spans (2) > spans (2). */
function countProtobufSpans(body: Buffer): number {
  let n = 0;
  for (const resourceSpans of submessages(body, 1)) {
    for (const scopeSpans of submessages(resourceSpans, 2)) {
      for (const _span of submessages(scopeSpans, 2)) n++;
    }
  }
  return n;
}

function countJsonSpans(body: Buffer): number {
  const request = JSON.parse(body.toString('utf8')) as {
    resourceSpans?: { scopeSpans?: { spans?: unknown[] }[] }[];
  };
  let n = 0;
  for (const rs of request.resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) n += ss.spans?.length ?? 0;
  }
  return n;
}

export interface OtlpSink {
  /** For OTEL_EXPORTER_OTLP_TRACES_ENDPOINT. */
  url: string;
  /** Export requests, spans and bytes received so far. */
  counts(): { requests: number; spans: number; bytes: number };
  stop(): Promise<void>;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  let requests = 0;
  let spans = 0;
  let bytes = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests++;
      bytes += body.length;
      try {
        spans += String(req.headers['content-type']).includes('json')
          ? countJsonSpans(body)
          : countProtobufSpans(body);
      } catch {
        // counted as a request; a body that does not parse carries no spans we can count
      }
      res.writeHead(200, {
        'content-type': req.headers['content-type'] ?? 'application/x-protobuf',
      });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    counts: () => ({ requests, spans, bytes }),
    stop() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
