import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';

// Envoy's own protos, as @grpc/grpc-js-xds ships them (the way docs/envoy.md loads them).
const deps = join(
  dirname(createRequire(import.meta.url).resolve('@grpc/grpc-js-xds/package.json')),
  'deps',
);
const definition = protoLoader.loadSync('envoy/service/auth/v3/external_auth.proto', {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: ['envoy-api', 'xds', 'protoc-gen-validate', 'googleapis'].map((d) => join(deps, d)),
});
const check = (definition['envoy.service.auth.v3.Authorization'] as protoLoader.ServiceDefinition)
  .Check as protoLoader.MethodDefinition<object, EnvoyCheckResponse>;

/** The gRPC path of Envoy's Check. */
export const ENVOY_CHECK_PATH = check.path;

/** What a workload reads of a CheckResponse. */
export interface EnvoyCheckResponse {
  status?: { code?: number };
  http_response?: 'ok_response' | 'denied_response';
  ok_response?: { headers?: { header?: { key?: string; value?: string } }[] };
}

/** A CheckRequest, as Envoy sends it, for a GET carrying `authorization: Bearer <token>`. */
export function encodeCheckRequest(token: string): Buffer {
  return check.requestSerialize({
    attributes: {
      source: { address: { socket_address: { address: '203.0.113.7', port_value: 52144 } } },
      request: {
        http: {
          method: 'GET',
          path: '/bookings',
          host: 'api.example.test',
          headers: {
            ':authority': 'api.example.test',
            ':path': '/bookings',
            ':method': 'GET',
            authorization: `Bearer ${token}`,
            'user-agent': 'gatehouse-bench',
          },
        },
      },
    },
  });
}

export const decodeCheckResponse = (bytes: Buffer): EnvoyCheckResponse =>
  check.responseDeserialize(bytes);
