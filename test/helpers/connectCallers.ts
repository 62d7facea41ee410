import {
  type DescMessage,
  fromBinary,
  fromJson,
  type JsonObject,
  type JsonValue,
  toJson,
} from '@bufbuild/protobuf';
import { base64Decode } from '@bufbuild/protobuf/wire';
import { Code, ConnectError, createClient, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { loadProtoRegistry } from '../../src/connect/protoRegistry.ts';

const protos = loadProtoRegistry();
const ERROR_INFO = protos.message('google.rpc.ErrorInfo');
const BAD_REQUEST = protos.message('google.rpc.BadRequest');
const RETRY_INFO = protos.message('google.rpc.RetryInfo');

/** What one call got back, the same shape whichever protocol carried it. */
export type Outcome =
  | { ok: true; message: JsonObject; headers: Headers }
  | {
      ok: false;
      /** Connect's code name: `invalid_argument`, `resource_exhausted`. */
      code: string;
      message: string;
      /** google.rpc.ErrorInfo.reason. */
      reason: string | undefined;
      /** google.rpc.BadRequest field names. */
      fields: string[];
      /** google.rpc.RetryInfo, in milliseconds. */
      retryDelayMs: number | undefined;
      headers: Headers;
      /** The HTTP status (JSON only; the client transports hide it). */
      httpStatus?: number;
    };

/** Calls `service/method` with a request in proto JSON and an optional bearer token. */
export interface Caller {
  protocol: 'connect' | 'grpc-web' | 'json';
  call(
    service: string,
    method: string,
    request: JsonObject,
    options?: { token?: string; headers?: Record<string, string> },
  ): Promise<Outcome>;
}

const headersOf = (options: { token?: string; headers?: Record<string, string> } = {}) => ({
  ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
  ...options.headers,
});

const codeName = (code: Code) =>
  Code[code].replace(/[A-Z]/g, (c, i: number) =>
    i === 0 ? c.toLowerCase() : `_${c.toLowerCase()}`,
  );

function durationMs(value: { seconds?: bigint | string; nanos?: number } | undefined): number {
  return Number(value?.seconds ?? 0) * 1000 + Math.round((value?.nanos ?? 0) / 1e6);
}

/** A Connect client of connect-node (binary Connect, or gRPC-Web) over the registry's descriptors. */
function transportCaller(protocol: 'connect' | 'grpc-web', transport: Transport): Caller {
  return {
    protocol,
    async call(serviceName, methodName, request, options) {
      const service = protos.service(serviceName);
      const method = service.methods.find((m) => m.name === methodName);
      if (method === undefined) throw new Error(`no ${serviceName}/${methodName}`);
      const client = createClient(service, transport) as unknown as Record<
        string,
        (req: unknown, options: unknown) => Promise<unknown>
      >;
      let headers = new Headers();
      const rpc = client[method.localName];
      if (rpc === undefined) throw new Error(`no client method ${method.localName}`);
      try {
        const response = await rpc(fromJson(method.input, request), {
          headers: headersOf(options),
          onHeader: (h: Headers) => {
            headers = h;
          },
        });
        return {
          ok: true,
          message: toJson(method.output, response as never) as JsonObject,
          headers,
        };
      } catch (error) {
        if (!(error instanceof ConnectError)) throw error;
        const info = error.findDetails(ERROR_INFO)[0] as { reason: string } | undefined;
        const bad = error.findDetails(BAD_REQUEST)[0] as
          | { fieldViolations: { field: string }[] }
          | undefined;
        const retry = error.findDetails(RETRY_INFO)[0] as
          | { retryDelay?: { seconds: bigint; nanos: number } }
          | undefined;
        return {
          ok: false,
          code: codeName(error.code),
          message: error.rawMessage,
          reason: info?.reason,
          fields: bad?.fieldViolations.map((v) => v.field) ?? [],
          retryDelayMs: retry ? durationMs(retry.retryDelay) : undefined,
          headers: error.metadata,
        };
      }
    },
  };
}

/** What a terminal user has: `fetch` (as `curl`) with a JSON body and a JSON answer. */
export function jsonCaller(baseUrl: string, extraHeaders: Record<string, string> = {}): Caller {
  return {
    protocol: 'json',
    async call(service, method, request, options) {
      const res = await fetch(`${baseUrl}/${service}/${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...extraHeaders, ...headersOf(options) },
        body: JSON.stringify(request),
      });
      const body = (await res.json()) as JsonObject;
      if (res.ok) return { ok: true, message: body, headers: res.headers };
      const details = (body.details ?? []) as { type: string; value: string; debug?: JsonValue }[];
      const detail = (desc: DescMessage) => {
        const d = details.find((x) => x.type === desc.typeName);
        if (d === undefined) return undefined;
        // The readable copy for people and the bytes for programs say the same.
        const decoded = toJson(desc, fromBinary(desc, base64Decode(d.value)));
        if (JSON.stringify(decoded) !== JSON.stringify(d.debug)) {
          throw new Error(`${desc.typeName}: debug ${JSON.stringify(d.debug)} is not the value`);
        }
        return decoded as JsonObject;
      };
      const info = detail(ERROR_INFO);
      const bad = detail(BAD_REQUEST);
      const retry = detail(RETRY_INFO);
      return {
        ok: false,
        code: String(body.code),
        message: String(body.message ?? ''),
        reason: info?.reason as string | undefined,
        fields: ((bad?.fieldViolations ?? []) as { field: string }[]).map((v) => v.field),
        retryDelayMs:
          retry === undefined ? undefined : Math.round(parseFloat(String(retry.retryDelay)) * 1000),
        headers: res.headers,
        httpStatus: res.status,
      };
    },
  };
}

/** The three callers of one Connect listener. */
export function connectCallers(baseUrl: string): Caller[] {
  return [
    transportCaller(
      'connect',
      createConnectTransport({ baseUrl, httpVersion: '1.1', useBinaryFormat: true }),
    ),
    transportCaller('grpc-web', createGrpcWebTransport({ baseUrl, httpVersion: '1.1' })),
    jsonCaller(baseUrl),
  ];
}
