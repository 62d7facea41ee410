import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An OTLP attribute as OTLP/JSON encodes it (one of the value kinds set). */
export interface OtlpAttribute {
  key: string;
  value: Record<string, unknown>;
}

/** A span as received over OTLP/HTTP JSON, with its resource and scope beside it. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpAttribute[];
  events?: { name: string; attributes?: OtlpAttribute[] }[];
  links?: { traceId: string; spanId: string; attributes?: OtlpAttribute[] }[];
  status?: { code?: number; message?: string };
  scope: string;
  resource: OtlpAttribute[];
}

interface ExportRequest {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: {
      scope?: { name?: string };
      spans?: Omit<ReceivedSpan, 'scope' | 'resource'>[];
    }[];
  }[];
}

/** The value of attribute `key` of a span, as a string (undefined when absent). */
export function attribute(
  attributes: OtlpAttribute[] | undefined,
  key: string,
): string | undefined {
  const found = attributes?.find((a) => a.key === key);
  if (found === undefined) return undefined;
  const [value] = Object.values(found.value);
  return value === undefined ? undefined : String(value);
}

/**
 * A minimal OpenTelemetry collector: a node:http server taking OTLP/HTTP JSON exports on
 * /v1/traces (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json) and keeping every span.
 */
export class OtlpCollector {
  readonly spans: ReceivedSpan[] = [];
  private readonly server: Server;

  private constructor(server: Server) {
    this.server = server;
  }

  static async start(): Promise<OtlpCollector> {
    const server = createServer();
    const collector = new OtlpCollector(server);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== '/v1/traces') {
          res.writeHead(404).end();
          return;
        }
        collector.add(JSON.parse(Buffer.concat(chunks).toString('utf8')) as ExportRequest);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return collector;
  }

  /** The traces endpoint, for OTEL_EXPORTER_OTLP_TRACES_ENDPOINT. */
  get tracesUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1/traces`;
  }

  /** Every span of trace `traceId` received so far. */
  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((s) => s.traceId === traceId);
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private add(request: ExportRequest): void {
    for (const rs of request.resourceSpans ?? []) {
      for (const ss of rs.scopeSpans ?? []) {
        for (const span of ss.spans ?? []) {
          this.spans.push({
            ...span,
            scope: ss.scope?.name ?? '',
            resource: rs.resource?.attributes ?? [],
          });
        }
      }
    }
  }
}
