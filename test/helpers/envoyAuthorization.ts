import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  type Client,
  credentials,
  loadPackageDefinition,
  Metadata,
  type ServiceClientConstructor,
  type ServiceError,
} from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

// Envoy's own protos as @grpc/grpc-js-xds ships them, loaded the way STACK.md and docs/envoy.md
// describe: independent of the image the server serves, so a drift between the two shows.
const xdsDeps = join(
  dirname(createRequire(import.meta.url).resolve('@grpc/grpc-js-xds/package.json')),
  'deps',
);
const definition = protoLoader.loadSync('envoy/service/auth/v3/external_auth.proto', {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: ['envoy-api', 'xds', 'protoc-gen-validate', 'googleapis'].map((d) =>
    join(xdsDeps, d),
  ),
});
const envoy = loadPackageDefinition(definition) as unknown as {
  envoy: { service: { auth: { v3: { Authorization: ServiceClientConstructor } } } };
};

/** A header of a CheckResponse (envoy.config.core.v3.HeaderValueOption), as decoded. */
export interface HeaderValueOption {
  header: { key: string; value: string };
  append_action: string;
}

/** envoy.service.auth.v3.CheckResponse as decoded here (defaults on, oneof name in http_response). */
export interface CheckResponse {
  status: { code: number; message: string } | null;
  http_response?: 'ok_response' | 'denied_response';
  ok_response?: { headers: HeaderValueOption[]; headers_to_remove: string[] };
  denied_response?: { status: { code: string }; headers: HeaderValueOption[]; body: string };
}

/** What a test says about the HTTP request Envoy would ask about. */
export interface CheckedHttp {
  headers?: Record<string, string>;
  contextExtensions?: Record<string, string>;
  sourceAddress?: string;
  path?: string;
  /** Send the headers as Envoy does with `encode_raw_headers: true` (header_map, raw_value). */
  rawHeaders?: boolean;
}

/** An envoy.service.auth.v3.CheckRequest for `http`, in Envoy's field names. */
export function checkRequest(http: CheckedHttp): object {
  const headers = {
    ':authority': 'api.example.test',
    ':path': http.path ?? '/bookings',
    ...http.headers,
  };
  return {
    attributes: {
      source: {
        address: {
          socket_address: { address: http.sourceAddress ?? '203.0.113.7', port_value: 52144 },
        },
      },
      destination: { address: { socket_address: { address: '10.0.0.2', port_value: 8080 } } },
      request: {
        time: { seconds: String(Math.floor(Date.now() / 1000)), nanos: 0 },
        http: {
          id: '1234',
          method: 'GET',
          ...(http.rawHeaders
            ? {
                header_map: {
                  headers: Object.entries(headers).map(([key, value]) => ({
                    key,
                    raw_value: Buffer.from(value),
                  })),
                },
              }
            : { headers }),
          path: http.path ?? '/bookings',
          host: 'api.example.test',
          scheme: 'https',
          protocol: 'HTTP/1.1',
        },
      },
      context_extensions: http.contextExtensions ?? {},
    },
  };
}

/** A client of Envoy's Authorization service, like Envoy's own ext_authz gRPC client. */
export function envoyAuthorizationClient(target: string): Client {
  return new envoy.envoy.service.auth.v3.Authorization(target, credentials.createInsecure());
}

/**
 * Authorization/Check with `gatewayKey` as Envoy's `grpc_service.initial_metadata` would send
 * it (`authorization: Bearer ...`); rejects with the ServiceError of a refused call.
 */
export function envoyCheck(
  client: Client,
  request: object,
  gatewayKey?: string,
): Promise<CheckResponse> {
  const md = new Metadata();
  if (gatewayKey !== undefined) md.set('authorization', `Bearer ${gatewayKey}`);
  return new Promise((resolve, reject) => {
    (
      client as unknown as {
        Check(
          r: object,
          m: Metadata,
          cb: (e: ServiceError | null, res: CheckResponse) => void,
        ): void;
      }
    ).Check(request, md, (e, res) => (e ? reject(e) : resolve(res)));
  });
}

/** The headers an allowed request gets, by name (value), and those removed. */
export function upstreamChanges(res: CheckResponse): {
  set: Record<string, string>;
  appendActions: string[];
  removed: string[];
} {
  const ok = res.ok_response;
  if (res.http_response !== 'ok_response' || ok === undefined) {
    throw new Error(`not an OK response: ${JSON.stringify(res)}`);
  }
  return {
    set: Object.fromEntries(ok.headers.map((h) => [h.header.key, h.header.value])),
    appendActions: [...new Set(ok.headers.map((h) => h.append_action))],
    removed: ok.headers_to_remove,
  };
}
