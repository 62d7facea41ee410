import { z } from 'zod';
import { type EnvRule, int, list, optionalString } from './envFields.ts';

/** How the server listens: gRPC (limits, TLS), the HTTP side port, shutdown, trusted proxies. */
export const servingEnvShape = {
  GRPC_HOST: z.string().default('0.0.0.0'),
  GRPC_PORT: int(50051, 0, 65535),
  HTTP_HOST: z.string().default('0.0.0.0'),
  HTTP_PORT: int(8080, 0, 65535),
  GRPC_MAX_MESSAGE_BYTES: int(64 * 1024, 1024, 16 * 1024 * 1024),
  GRPC_MAX_METADATA_BYTES: int(16 * 1024, 1024, 1024 * 1024),
  GRPC_MAX_CONCURRENT_STREAMS: int(1000, 1),
  GRPC_MIN_PING_INTERVAL_MS: int(5 * 60_000, 10),
  TLS_CERT_FILE: optionalString,
  TLS_KEY_FILE: optionalString,
  TLS_CLIENT_CA_FILE: optionalString,
  SHUTDOWN_GRACE_MS: int(10_000, 0),
  TRUSTED_PROXIES: list,
};

type ServingEnv = z.infer<z.ZodObject<typeof servingEnvShape>>;

export interface GrpcConfig {
  host: string;
  port: number;
  maxMessageBytes: number;
  maxMetadataBytes: number;
  maxConcurrentStreams: number;
  /** Clients pinging more often than this are sent GOAWAY ENHANCE_YOUR_CALM. */
  minPingIntervalMs: number;
  tls: { certFile: string; keyFile: string; clientCaFile: string | undefined } | undefined;
}

export interface HttpConfig {
  host: string;
  port: number;
}

export const servingEnvRules: EnvRule<ServingEnv>[] = [
  {
    reads: ['TLS_CERT_FILE', 'TLS_KEY_FILE'],
    problems: (e) =>
      (e.TLS_CERT_FILE === undefined) !== (e.TLS_KEY_FILE === undefined)
        ? ['TLS_CERT_FILE, TLS_KEY_FILE: set both or neither']
        : [],
  },
];

export function toGrpcConfig(e: ServingEnv): GrpcConfig {
  return {
    host: e.GRPC_HOST,
    port: e.GRPC_PORT,
    maxMessageBytes: e.GRPC_MAX_MESSAGE_BYTES,
    maxMetadataBytes: e.GRPC_MAX_METADATA_BYTES,
    maxConcurrentStreams: e.GRPC_MAX_CONCURRENT_STREAMS,
    minPingIntervalMs: e.GRPC_MIN_PING_INTERVAL_MS,
    tls:
      e.TLS_CERT_FILE !== undefined && e.TLS_KEY_FILE !== undefined
        ? { certFile: e.TLS_CERT_FILE, keyFile: e.TLS_KEY_FILE, clientCaFile: e.TLS_CLIENT_CA_FILE }
        : undefined,
  };
}

export function toHttpConfig(e: ServingEnv): HttpConfig {
  return { host: e.HTTP_HOST, port: e.HTTP_PORT };
}
