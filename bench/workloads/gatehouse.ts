/**
 * Load-generator side of the Gatehouse scenarios: real RPCs against the server, with requests
 * encoded by the generated ts-proto code and every response checked (a fast wrong answer must
 * not count as throughput).
 */
import {
  ListAuditEventsRequest,
  ListAuditEventsResponse,
  ListUsersRequest,
  ListUsersResponse,
  UserAdminServiceService,
} from '../../src/gen/gatehouse/admin/v1/user_admin_service.ts';
import {
  AuthServiceService,
  ExchangeApiKeyRequest,
  ExchangeApiKeyResponse,
  LoginRequest,
  LoginResponse,
  RefreshRequest,
  RefreshResponse,
  RegisterRequest,
  RegisterResponse,
  ValidateTokenRequest,
  ValidateTokenResponse,
} from '../../src/gen/gatehouse/auth/v1/auth_service.ts';
import {
  AuthorizationServiceService,
  CheckPermissionRequest,
  CheckPermissionResponse,
  DecisionReason,
} from '../../src/gen/gatehouse/authz/v1/authorization_service.ts';
import { decodeCheckResponse, ENVOY_CHECK_PATH, encodeCheckRequest } from '../lib/envoyCheck.ts';
import { OpError, StopWorker, UnaryCaller } from '../lib/grpcUnary.ts';
import type { WorkloadSpec } from '../lib/protocol.ts';
import type { Workload } from './Workload.ts';

const encode = <T>(codec: { encode(v: T): { finish(): Uint8Array } }, value: T): Buffer =>
  Buffer.from(codec.encode(value).finish());

type Spec<K extends WorkloadSpec['kind']> = Extract<WorkloadSpec, { kind: K }>;

async function connected(target: string, channels: number): Promise<UnaryCaller> {
  const caller = new UnaryCaller(target, channels);
  await caller.connect();
  return caller;
}

export async function validateTokenWorkload(
  spec: Spec<'validate-token'>,
  channels: number,
): Promise<Workload> {
  if (spec.tokens.length === 0) throw new Error('validate-token needs at least one token');
  const caller = await connected(spec.target, channels);
  const requests = spec.tokens.map((t) => encode(ValidateTokenRequest, { accessToken: t }));
  const path = AuthServiceService.validateToken.path;
  let next = 0;
  let reused = 0;
  return {
    async op(worker) {
      if (next >= requests.length) reused += 1;
      const request = requests[next++ % requests.length] as Buffer;
      const res = ValidateTokenResponse.decode(await caller.call(worker, path, request));
      if (!res.active) throw new OpError('INACTIVE', 'ValidateToken answered active=false');
      return undefined;
    },
    close: () => caller.close(),
    stats: () => ({ tokens: requests.length, callsReusingAToken: reused }),
  };
}

/** ExchangeApiKey, presenting the keys in turn as `authorization: Bearer`. */
export async function exchangeApiKeyWorkload(
  spec: Spec<'exchange-api-key'>,
  channels: number,
): Promise<Workload> {
  if (spec.secrets.length === 0) throw new Error('exchange-api-key needs at least one key');
  const caller = await connected(spec.target, channels);
  const request = encode(ExchangeApiKeyRequest, {});
  const headers = spec.secrets.map((secret) => ({ authorization: `Bearer ${secret}` }));
  const path = AuthServiceService.exchangeApiKey.path;
  let next = 0;
  return {
    async op(worker) {
      const header = headers[next++ % headers.length] as Record<string, string>;
      const res = ExchangeApiKeyResponse.decode(await caller.call(worker, path, request, header));
      if (!res.accessToken) throw new OpError('NO_TOKEN', 'ExchangeApiKey returned no token');
      return undefined;
    },
    close: () => caller.close(),
  };
}

export async function loginWorkload(spec: Spec<'login'>, channels: number): Promise<Workload> {
  if (spec.identifiers.length === 0) throw new Error('login needs at least one identifier');
  const caller = await connected(spec.target, channels);
  const requests = spec.identifiers.map((identifier) =>
    encode(LoginRequest, { identifier, password: spec.password }),
  );
  const path = AuthServiceService.login.path;
  let next = 0;
  return {
    async op(worker) {
      const request = requests[next++ % requests.length] as Buffer;
      const res = LoginResponse.decode(await caller.call(worker, path, request));
      if (!res.tokens?.accessToken) throw new OpError('NO_TOKENS', 'Login returned no tokens');
      return undefined;
    },
    close: () => caller.close(),
  };
}

export async function registerWorkload(
  spec: Spec<'register'>,
  channels: number,
): Promise<Workload> {
  const caller = await connected(spec.target, channels);
  const path = AuthServiceService.register.path;
  let n = 0;
  return {
    async op(worker) {
      const email = `${spec.emailPrefix}-${worker}-${n++}@example.test`;
      const request = encode(RegisterRequest, {
        email,
        password: spec.password,
        username: '',
        displayName: '',
      });
      const res = RegisterResponse.decode(await caller.call(worker, path, request));
      if (!res.tokens?.accessToken) throw new OpError('NO_TOKENS', 'Register returned no tokens');
      return undefined;
    },
    close: () => caller.close(),
  };
}

/** Worker i rotates its own chain, so no two workers ever wait on the same token's row lock. */
export async function refreshWorkload(
  spec: Spec<'refresh'>,
  channels: number,
  concurrency: number,
): Promise<Workload> {
  if (spec.refreshTokens.length < concurrency) {
    throw new Error(`refresh needs ${concurrency} chains, got ${spec.refreshTokens.length}`);
  }
  const caller = await connected(spec.target, channels);
  const current = [...spec.refreshTokens];
  const path = AuthServiceService.refresh.path;
  return {
    async op(worker) {
      const refreshToken = current[worker] as string;
      let raw: Buffer;
      try {
        raw = await caller.call(worker, path, encode(RefreshRequest, { refreshToken }));
      } catch (error) {
        // A lost answer is retried with the same token (the reuse grace window covers it); a
        // refused token means this chain is over.
        if (error instanceof OpError && error.code === 'UNAUTHENTICATED') {
          throw new StopWorker(error.code, `refresh chain ${worker} broke: ${error.message}`);
        }
        throw error;
      }
      const next = RefreshResponse.decode(raw).tokens?.refreshToken;
      if (!next) throw new StopWorker('NO_TOKENS', 'Refresh returned no refresh token');
      current[worker] = next;
      return undefined;
    },
    close: () => caller.close(),
  };
}

/** Alternates between the pages within every worker, so both series see the same load and noise. */
export async function listUsersWorkload(
  spec: Spec<'list-users'>,
  channels: number,
): Promise<Workload> {
  if (spec.pages.length === 0) throw new Error('list-users needs at least one page');
  const caller = await connected(spec.target, channels);
  const path = UserAdminServiceService.listUsers.path;
  const pages = spec.pages.map((p) => ({
    label: p.label,
    request: encode(ListUsersRequest, {
      pageSize: spec.pageSize,
      pageToken: p.pageToken,
      query: '',
      role: '',
      status: 0,
    }),
  }));
  const headers = { authorization: `Bearer ${spec.adminToken}` };
  const turn: number[] = [];
  return {
    async op(worker) {
      const i = turn[worker] ?? worker;
      turn[worker] = i + 1;
      const page = pages[i % pages.length] as (typeof pages)[number];
      const res = ListUsersResponse.decode(await caller.call(worker, path, page.request, headers));
      if (res.users.length !== spec.pageSize) {
        throw new OpError('SHORT_PAGE', `${page.label}: ${res.users.length} users`);
      }
      return page.label;
    },
    close: () => caller.close(),
  };
}

/** ListAuditEvents, the requests in turn across all workers (a different user filter each time). */
export async function listAuditEventsWorkload(
  spec: Spec<'list-audit-events'>,
  channels: number,
): Promise<Workload> {
  if (spec.requests.length === 0) throw new Error('list-audit-events needs at least one request');
  const caller = await connected(spec.target, channels);
  const path = UserAdminServiceService.listAuditEvents.path;
  const requests = spec.requests.map((r) => ({
    label: r.label,
    request: encode(ListAuditEventsRequest, {
      pageSize: spec.pageSize,
      pageToken: '',
      userId: r.userId,
      action: '',
      since: undefined,
      until: undefined,
      organizationId: undefined,
    }),
  }));
  const headers = { authorization: `Bearer ${spec.adminToken}` };
  let next = 0;
  return {
    async op(worker) {
      const r = requests[next++ % requests.length] as (typeof requests)[number];
      const res = ListAuditEventsResponse.decode(
        await caller.call(worker, path, r.request, headers),
      );
      if (res.events.length !== spec.pageSize) {
        throw new OpError('SHORT_PAGE', `${r.label}: ${res.events.length} events`);
      }
      return r.label;
    },
    close: () => caller.close(),
  };
}

/** CheckPermission by subject, the checks in turn; every answer must be an organisation grant. */
export async function checkPermissionWorkload(
  spec: Spec<'check-permission'>,
  channels: number,
): Promise<Workload> {
  if (spec.checks.length === 0) throw new Error('check-permission needs at least one check');
  const caller = await connected(spec.target, channels);
  const requests = spec.checks.map((c) =>
    encode(CheckPermissionRequest, {
      principal: { $case: 'subject', value: { id: { $case: 'userId', value: c.userId } } },
      permission: c.permission,
      organizationId: c.organizationId,
    }),
  );
  const headers = { authorization: `Bearer ${spec.credential}` };
  const path = AuthorizationServiceService.checkPermission.path;
  let next = 0;
  return {
    async op(worker) {
      const request = requests[next++ % requests.length] as Buffer;
      const res = CheckPermissionResponse.decode(await caller.call(worker, path, request, headers));
      if (!res.allowed || res.reason !== DecisionReason.DECISION_REASON_ORGANIZATION_ROLE) {
        throw new OpError('DENIED', `CheckPermission: allowed=${res.allowed} reason=${res.reason}`);
      }
      return undefined;
    },
    close: () => caller.close(),
  };
}

/** Envoy's Check for each token in turn; every answer must let the request through as its user. */
export async function extAuthzCheckWorkload(
  spec: Spec<'ext-authz-check'>,
  channels: number,
): Promise<Workload> {
  if (spec.tokens.length === 0) throw new Error('ext-authz-check needs at least one token');
  const caller = await connected(spec.target, channels);
  const requests = spec.tokens.map(encodeCheckRequest);
  const headers = { authorization: `Bearer ${spec.gatewayKey}` };
  let next = 0;
  return {
    async op(worker) {
      const request = requests[next++ % requests.length] as Buffer;
      const res = decodeCheckResponse(
        await caller.call(worker, ENVOY_CHECK_PATH, request, headers),
      );
      const userId = res.ok_response?.headers?.find((h) => h.header?.key === 'x-gatehouse-user-id')
        ?.header?.value;
      if ((res.status?.code ?? 0) !== 0 || res.http_response !== 'ok_response' || !userId) {
        throw new OpError('DENIED', `Check: ${JSON.stringify(res.status)} ${res.http_response}`);
      }
      return undefined;
    },
    close: () => caller.close(),
  };
}
