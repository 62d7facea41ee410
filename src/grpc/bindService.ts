import { randomUUID } from 'node:crypto';
import {
  type handleUnaryCall,
  Metadata,
  type ServerUnaryCall,
  type ServiceDefinition,
  type sendUnaryData,
  status,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { Principal } from '../auth/Principal.ts';
import { AppError } from '../errors/AppError.ts';
import { invalidAccessToken } from '../errors/invalidAccessToken.ts';
import type { Logger } from '../log.ts';
import { MAX_ACCESS_TOKEN_LENGTH, parseBearer } from './bearerToken.ts';
import type { ClientAddressResolver } from './clientAddress.ts';
import { toServiceError } from './toServiceError.ts';

export type { Principal };

/** What a handler knows about its call besides the request message. */
export interface CallContext {
  requestId: string;
  clientIp: string;
  userAgent: string;
  log: Logger;
  /** Aborted when the client cancels or the deadline passes. */
  signal: AbortSignal;
  /** The access token from `authorization: Bearer ...`, if any (never longer than 8 KiB). */
  bearerToken: string | undefined;
  /** Verifies the bearer token and its session; throws UNAUTHENTICATED otherwise. */
  authenticate(): Promise<Principal>;
}

export type UnaryHandler<Req = never, Res = unknown> = (req: Req, ctx: CallContext) => Promise<Res>;

/** Typed handlers for a ts-proto `XxxServer` interface; a missing one answers UNIMPLEMENTED. */
export type UnaryHandlers<S> = {
  [K in keyof S as string extends K ? never : K]?: S[K] extends handleUnaryCall<
    infer Req,
    infer Res
  >
    ? (req: Req, ctx: CallContext) => Promise<Res>
    : never;
};

export interface CallHooks {
  /** Admits a call from `clientIp` or throws (RATE_LIMITED); runs before authentication. */
  admit?(method: string, clientIp: string): Promise<void>;
  /** Observes every finished call (metrics). */
  onCallEnd?(method: string, code: status, durationMs: number): void;
  /** Returns false while the server drains; new calls then fail with UNAVAILABLE. */
  accepting(): boolean;
}

export interface BindDeps {
  log: Logger;
  clientAddress: ClientAddressResolver;
  /** Resolves a bearer token to a principal, or null when it is not (or no longer) valid. */
  verifyBearer(token: string): Promise<Principal | null>;
  hooks: CallHooks;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

function firstString(md: Metadata, key: string): string | undefined {
  const v = md.get(key)[0];
  return typeof v === 'string' ? v : undefined;
}

const BEARER_PROBLEMS = {
  absent: 'this call needs an access token in `authorization: Bearer <token>` metadata',
  malformed: 'the `authorization` metadata must be `Bearer <access token>`',
  too_long: `the access token is longer than ${MAX_ACCESS_TOKEN_LENGTH} characters`,
} as const;

/**
 * Wraps handlers as a grpc-js service implementation: request id, client address, deadline
 * signal, lazy bearer authentication, structured access log, and the single error mapping.
 * Methods of the definition without a handler answer UNIMPLEMENTED with ErrorInfo.
 */
export function bindService(
  definition: ServiceDefinition,
  handlers: object,
  deps: BindDeps,
): UntypedServiceImplementation {
  const impl: UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(definition)) {
    const handler = (handlers as Record<string, UnaryHandler | undefined>)[name];
    impl[name] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      void runCall(method.path, handler, call, callback, deps);
    };
  }
  return impl;
}

async function runCall(
  path: string,
  handler: UnaryHandler<never, unknown> | undefined,
  call: ServerUnaryCall<unknown, unknown>,
  callback: sendUnaryData<unknown>,
  deps: BindDeps,
): Promise<void> {
  const started = performance.now();
  const md = call.metadata;
  const incomingId = firstString(md, 'x-request-id');
  const requestId = incomingId && REQUEST_ID.test(incomingId) ? incomingId : randomUUID();
  const clientIp = deps.clientAddress(call.getPeer(), firstString(md, 'x-forwarded-for'));
  const userAgent = (firstString(md, 'user-agent') ?? '').slice(0, 512);
  // The child logger is built only when something logs (most calls only write the access line).
  let log: Logger | undefined;
  const callLog = () => {
    log ??= deps.log.child({ requestId, method: path });
    return log;
  };
  const abort = new AbortController();
  let finished = false;
  // grpc-js also emits 'cancelled' after a call has completed normally: only a real one counts.
  call.on('cancelled', () => {
    if (!finished) abort.abort(new AppError('DEADLINE_EXCEEDED', 'call cancelled'));
  });
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : Number(deadline);
  let timer: NodeJS.Timeout | undefined;
  if (Number.isFinite(deadlineMs)) {
    timer = setTimeout(
      () => abort.abort(new AppError('DEADLINE_EXCEEDED', 'deadline exceeded')),
      Math.max(0, deadlineMs - Date.now()),
    );
  }
  const bearer = parseBearer(firstString(md, 'authorization'));
  const bearerToken = bearer.kind === 'token' ? bearer.token : undefined;
  let principal: Promise<Principal> | undefined;
  const ctx: CallContext = {
    requestId,
    clientIp,
    userAgent,
    get log() {
      return callLog();
    },
    signal: abort.signal,
    bearerToken,
    authenticate() {
      principal ??= (async () => {
        if (bearer.kind !== 'token') {
          throw new AppError('INVALID_ACCESS_TOKEN', BEARER_PROBLEMS[bearer.kind]);
        }
        const p = await deps.verifyBearer(bearer.token);
        if (p === null) {
          throw invalidAccessToken();
        }
        return p;
      })();
      return principal;
    },
  };
  // Sent right before the answer, so headers and message leave in one write.
  const sendRequestId = () => {
    const responseMd = new Metadata();
    responseMd.set('x-request-id', requestId);
    call.sendMetadata(responseMd);
  };

  let code: status = status.OK;
  try {
    if (!deps.hooks.accepting()) {
      throw new AppError(
        'SHUTTING_DOWN',
        'the server is shutting down; retry on another instance',
        {
          retryAfterMs: 1000,
        },
      );
    }
    await deps.hooks.admit?.(path, clientIp);
    if (handler === undefined) {
      throw new AppError('NOT_IMPLEMENTED', `${path} is not implemented yet`);
    }
    const response = await handler(call.request as never, ctx);
    if (abort.signal.aborted) throw abort.signal.reason;
    finished = true;
    sendRequestId();
    callback(null, response);
  } catch (error) {
    const serviceError = toServiceError(error, callLog());
    code = serviceError.code;
    finished = true;
    sendRequestId();
    callback(serviceError);
  } finally {
    if (timer) clearTimeout(timer);
    const durationMs = performance.now() - started;
    deps.hooks.onCallEnd?.(path, code, durationMs);
    if (deps.log.isLevelEnabled('info')) {
      callLog().info(
        { code: status[code], durationMs: Math.round(durationMs * 10) / 10, peer: clientIp },
        'call',
      );
    }
  }
}
