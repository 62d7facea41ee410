import { z } from 'zod';
import { envBool } from '../envBool.ts';
import { type EnvRule, int, list, optionalString } from './envFields.ts';

/**
 * How the server listens: gRPC (limits, TLS), the Connect/gRPC-Web/JSON port, the HTTP side
 * port, shutdown, trusted proxies.
 */
export const servingEnvShape = {
  GRPC_HOST: z.string().default('0.0.0.0'),
  GRPC_PORT: int(50051, 0, 65535),
  CONNECT_ENABLED: envBool.default(true),
  CONNECT_HOST: z.string().default('0.0.0.0'),
  CONNECT_PORT: int(8081, 0, 65535),
  CONNECT_CORS_ORIGINS: list,
  CONNECT_REFRESH_COOKIE: envBool.default(false),
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

/** The Connect, gRPC-Web and JSON listener (src/connect), on its own port. */
export interface ConnectConfig {
  host: string;
  port: number;
  /** Browser origins allowed by CORS (exact `scheme://host[:port]`); empty: none. */
  corsOrigins: string[];
  /** Browsers get refresh tokens as an HttpOnly cookie, never in a message (refreshCookie). */
  refreshCookie: boolean;
  /** The request size limit, as GRPC_MAX_MESSAGE_BYTES. */
  maxMessageBytes: number;
  /** The request headers' size limit, as GRPC_MAX_METADATA_BYTES (larger: HTTP 431). */
  maxHeaderBytes: number;
  /** TLS_CERT_FILE/TLS_KEY_FILE (and TLS_CLIENT_CA_FILE), as gRPC's: HTTPS and HTTP/2. */
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
  {
    reads: ['CONNECT_CORS_ORIGINS'],
    problems: (e) => e.CONNECT_CORS_ORIGINS.flatMap((o) => originProblem(o)),
  },
  {
    reads: ['CONNECT_REFRESH_COOKIE', 'CONNECT_CORS_ORIGINS'],
    problems: (e) =>
      e.CONNECT_REFRESH_COOKIE && e.CONNECT_CORS_ORIGINS.length === 0
        ? [
            'CONNECT_REFRESH_COOKIE: the cookie is for browsers, and CONNECT_CORS_ORIGINS admits none; list the origins of your web apps (your own site too, when it proxies to Gatehouse)',
          ]
        : [],
  },
];

/** An entry of CONNECT_CORS_ORIGINS must be an origin as browsers send it, nothing more. */
function originProblem(entry: string): string[] {
  const problem = (why: string) => [
    `CONNECT_CORS_ORIGINS: ${JSON.stringify(entry)} ${why} (write origins like https://app.example.com, comma-separated)`,
  ];
  if (entry === '*' || entry === 'null') {
    return problem('would allow every page; list the origins of your own web apps');
  }
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return problem('is not an origin');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return problem('is not http(s)');
  if (url.origin !== entry) {
    return problem(`is not an origin: browsers send ${JSON.stringify(url.origin)}`);
  }
  return [];
}

/** TLS_CERT_FILE, TLS_KEY_FILE and TLS_CLIENT_CA_FILE: one certificate for every API port. */
function toTlsConfig(e: ServingEnv): GrpcConfig['tls'] {
  return e.TLS_CERT_FILE !== undefined && e.TLS_KEY_FILE !== undefined
    ? { certFile: e.TLS_CERT_FILE, keyFile: e.TLS_KEY_FILE, clientCaFile: e.TLS_CLIENT_CA_FILE }
    : undefined;
}

export function toConnectConfig(e: ServingEnv): ConnectConfig | undefined {
  if (!e.CONNECT_ENABLED) return undefined;
  return {
    host: e.CONNECT_HOST,
    port: e.CONNECT_PORT,
    corsOrigins: e.CONNECT_CORS_ORIGINS,
    refreshCookie: e.CONNECT_REFRESH_COOKIE,
    maxMessageBytes: e.GRPC_MAX_MESSAGE_BYTES,
    maxHeaderBytes: e.GRPC_MAX_METADATA_BYTES,
    tls: toTlsConfig(e),
  };
}

export function toGrpcConfig(e: ServingEnv): GrpcConfig {
  return {
    host: e.GRPC_HOST,
    port: e.GRPC_PORT,
    maxMessageBytes: e.GRPC_MAX_MESSAGE_BYTES,
    maxMetadataBytes: e.GRPC_MAX_METADATA_BYTES,
    maxConcurrentStreams: e.GRPC_MAX_CONCURRENT_STREAMS,
    minPingIntervalMs: e.GRPC_MIN_PING_INTERVAL_MS,
    tls: toTlsConfig(e),
  };
}

export function toHttpConfig(e: ServingEnv): HttpConfig {
  return { host: e.HTTP_HOST, port: e.HTTP_PORT };
}
