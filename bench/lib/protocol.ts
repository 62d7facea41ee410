/**
 * Messages between the orchestrator (bench/run.ts) and the load generator (bench/loadgen.ts),
 * which talk over the IPC channel of child_process.fork. Everything here is plain JSON.
 */
import type { ApiKeyTokenInput } from '../../src/keys/createAccessTokens.ts';
import type { KeyStoreOptions } from '../../src/keys/createKeyStore.ts';
import type { LatencySummary } from './stats.ts';

export interface Argon2Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** One refresh chain of the raw-pg baseline: a session and its current refresh token. */
export interface PgRefreshChain {
  userId: string;
  sessionId: string;
  refreshToken: string;
}

/** The server's token settings: what a signing loop needs to sign exactly what the server signs. */
export type TokenSettings = Pick<
  KeyStoreOptions,
  'issuer' | 'audience' | 'algorithm' | 'accessTtlSec' | 'clockSkewSec'
>;

/** What the load generator does in a loop; each kind is implemented in bench/workloads or bench/baselines. */
export type WorkloadSpec =
  /** Empty unary RPC on the bare grpc-js server (bench/baselines/emptyServer.ts). */
  | { kind: 'grpc-empty'; target: string; path: string }
  /** ValidateToken, cycling through `tokens` in order (each token again only after all others). */
  | { kind: 'validate-token'; target: string; tokens: string[] }
  /**
   * @gatehouse/verifier's verify() in the load generator's own process (one event loop, one
   * core), cycling through `tokens`; the verifier follows `target`'s JWKS and revocation stream
   * with `watcherKey` (a service account key holding revocations:watch).
   */
  | { kind: 'verifier-verify'; target: string; watcherKey: string; tokens: string[] }
  /** Login, cycling through `identifiers` (all with the same password). */
  | { kind: 'login'; target: string; identifiers: string[]; password: string }
  /** Register with a fresh address per call. */
  | { kind: 'register'; target: string; emailPrefix: string; password: string }
  /** ExchangeApiKey with each API key secret in turn as the bearer credential. */
  | { kind: 'exchange-api-key'; target: string; secrets: string[] }
  /**
   * CheckPermission by subject, cycling through `checks`, each call presenting `credential` (a
   * service account's API key holding `authz:check`) as `authorization: Bearer`.
   */
  | {
      kind: 'check-permission';
      target: string;
      credential: string;
      checks: { userId: string; organizationId: string; permission: string }[];
    }
  /**
   * Envoy's ext_authz Authorization/Check, cycling through `tokens` as the checked requests'
   * `authorization: Bearer`, each call presenting `gatewayKey` (a service account's API key
   * holding `gateway:check`) as Envoy's initial_metadata would.
   */
  | { kind: 'ext-authz-check'; target: string; gatewayKey: string; tokens: string[] }
  /** Refresh: worker i rotates chain i (needs one refresh token per worker). */
  | { kind: 'refresh'; target: string; refreshTokens: string[] }
  /** ListUsers with page_size `pageSize`, alternating between the given pages (label -> token). */
  | {
      kind: 'list-users';
      target: string;
      adminToken: string;
      pageSize: number;
      pages: { label: string; pageToken: string }[];
    }
  /**
   * ListAuditEvents with page_size `pageSize`, the requests in turn (each a filter: empty
   * `userId` for all events); every answer must be a full page.
   */
  | {
      kind: 'list-audit-events';
      target: string;
      adminToken: string;
      pageSize: number;
      requests: { label: string; userId: string }[];
    }
  /** argon2.verify of a correct password against `hash`. */
  | { kind: 'argon2-verify'; hash: string; password: string }
  /** argon2.hash with the server's parameters. */
  | { kind: 'argon2-hash'; params: Argon2Params; password: string }
  /**
   * What ExchangeApiKey cannot avoid, without gRPC, authentication or rate limits: the server's
   * own KeyStore signs an API key's access token (with the server's active key, read from
   * `databaseUrl`), then its audit row is inserted through raw `pg` (pool of `poolMax`), each
   * worker cycling through `claims`.
   */
  | {
      kind: 'sign-and-audit';
      databaseUrl: string;
      poolMax: number;
      tokens: TokenSettings;
      /** ExchangeApiKey's token lifetime (API_KEY_ACCESS_TOKEN_TTL_SEC). */
      ttlSec: number;
      claims: Omit<ApiKeyTokenInput, 'ttlSec'>[];
    }
  /** The SQL transaction of a successful Refresh, through raw `pg`. */
  | {
      kind: 'pg-refresh';
      databaseUrl: string;
      poolMax: number;
      sessionIdleSec: number;
      chains: PgRefreshChain[];
    };

export interface Job {
  id: number;
  workload: WorkloadSpec;
  concurrency: number;
  /** gRPC channels (separate HTTP/2 connections) the workers are spread over. */
  channels: number;
  warmupMs: number;
  durationMs: number;
}

export interface JobResult {
  id: number;
  /** Operations that completed successfully inside the measurement window. */
  ops: number;
  /** Failed operations inside the window, by code (gRPC status name or error name). */
  errors: Record<string, number>;
  firstError: string | null;
  /** Length of the measurement window actually observed. */
  windowMs: number;
  throughput: number;
  /** Latency of successful operations by label ('all' always present). */
  latency: Record<string, LatencySummary>;
  /** CPU time the load generator spent during the window (user + system). */
  loadgenCpuMs: number;
  /** Workers that stopped early (e.g. a broken refresh chain). */
  stoppedWorkers: number;
  /** Workload counters (warm-up included), e.g. token re-use of ValidateToken. */
  stats: Record<string, number>;
}

export type ToLoadgen = { type: 'run'; job: Job } | { type: 'exit' };

export type FromLoadgen =
  | { type: 'ready' }
  | { type: 'result'; result: JobResult }
  | { type: 'failed'; id: number; error: string };
