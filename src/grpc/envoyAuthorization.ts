import { readFileSync } from 'node:fs';
import type { ServiceDefinition } from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { DeclaredMethodPolicy } from '../policy/loadMethodPolicies.ts';

/** Envoy's external authorization service (ext_authz over gRPC), served on the gRPC port. */
export const ENVOY_AUTHORIZATION_SERVICE = 'envoy.service.auth.v3.Authorization';

/**
 * Envoy's protos say nothing of Gatehouse's call policies, so Check's is declared here, in the
 * `(gatehouse.policy.v1.method_policy)` option's proto JSON form, and validated at start by the
 * same rules as the proto ones (loadDeclaredPolicies). A gateway authenticates as a service
 * account with one of its API keys; holding gateway:check is the use case's first step (like
 * authz:check for AuthorizationService), decided before the checked request is read.
 *
 * Budgets: none per source and, like CheckPermission, none per key (`skip_key_budget`): a
 * gateway calls Check for every HTTP request it serves, from a few addresses with one key, so
 * either budget would throttle all of its traffic at once. What a guess could exploit is still
 * limited: a refused gateway key spends the per-source credential budget (the request path),
 * and a checked request's refused API key or legacy-key lookup spends the credential budget of
 * the end user's address the gateway reports (a 429 denial, not a gRPC error).
 */
export const ENVOY_AUTHORIZATION_POLICIES: readonly DeclaredMethodPolicy[] = [
  {
    service: ENVOY_AUTHORIZATION_SERVICE,
    method: 'Check',
    policy: {
      caller: 'CALLER_AUTHENTICATED',
      principal_kinds: ['PRINCIPAL_KIND_SERVICE_ACCOUNT'],
      source_budget: 'SOURCE_BUDGET_NONE',
      account_budget: 'ACCOUNT_BUDGET_NONE',
      skip_key_budget: true,
    },
  },
];

/**
 * The buf image of Envoy's envoy/service/auth/v3/external_auth.proto and its imports, from the
 * protos @grpc/grpc-js-xds ships (`npm run generate`, buf.envoy.yaml).
 */
export function readEnvoyImage(): Uint8Array {
  return readFileSync(new URL('../gen/envoy-ext-authz.binpb', import.meta.url));
}

// Field names as in Envoy's protos (snake_case), 64-bit integers as strings, enums by name.
const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: false,
};

/** Envoy's Authorization service as grpc-js serves it, from the image. */
export function loadEnvoyAuthorizationService(image: Uint8Array): ServiceDefinition {
  const definition = protoLoader.loadFileDescriptorSetFromBuffer(
    Buffer.from(image),
    LOADER_OPTIONS,
  );
  const service = definition[ENVOY_AUTHORIZATION_SERVICE];
  if (service === undefined || !('Check' in service)) {
    throw new Error(`the Envoy image lacks ${ENVOY_AUTHORIZATION_SERVICE}`);
  }
  return service as unknown as ServiceDefinition;
}

// The parts of Envoy's messages Gatehouse reads and writes, named as in
// envoy/service/auth/v3/{external_auth,attribute_context}.proto and envoy/config/core/v3.

/**
 * A proto `map<string, string>`. Loaded from a descriptor set, protobufjs sees the map's
 * synthetic entry message and decodes a map as a list of entries (loadSync, from .proto files,
 * gives an object); the wire format is the same.
 */
export type StringMapMessage = { key?: string; value?: string }[] | Record<string, string>;

/** The entries of a decoded map, in either form. */
export function mapEntries(map: StringMapMessage | undefined): [string, string][] {
  if (map === undefined) return [];
  if (!Array.isArray(map)) return Object.entries(map);
  return map.flatMap((e) => (e.key === undefined ? [] : [[e.key, e.value ?? '']]));
}

/** envoy.service.auth.v3.CheckRequest, as proto-loader decodes it (LOADER_OPTIONS). */
export interface CheckRequestMessage {
  attributes?: {
    source?: { address?: { socket_address?: { address?: string } } };
    request?: {
      http?: {
        headers?: StringMapMessage;
        /** Set instead of `headers` when Envoy's `encode_raw_headers` is on. */
        header_map?: { headers?: { key?: string; value?: string; raw_value?: Buffer }[] };
      };
    };
    context_extensions?: StringMapMessage;
  };
}

/** envoy.config.core.v3.HeaderValueOption. */
export interface HeaderValueOptionMessage {
  header: { key: string; value: string };
  append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' | 'APPEND_IF_EXISTS_OR_ADD';
}

/** envoy.service.auth.v3.CheckResponse, as proto-loader encodes it. */
export interface CheckResponseMessage {
  /** google.rpc.Status: OK lets the request through, anything else denies it. */
  status: { code: number; message?: string };
  ok_response?: { headers: HeaderValueOptionMessage[]; headers_to_remove: string[] };
  denied_response?: {
    /** envoy.type.v3.HttpStatus; its StatusCode values are the HTTP status codes. */
    status: { code: number };
    headers: HeaderValueOptionMessage[];
    body: string;
  };
}
