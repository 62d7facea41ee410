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
import { AppError } from '../errors/AppError.ts';
import type { Logger } from '../log.ts';
import type { CallContext, IncomingCall } from '../policy/CallContext.ts';
import { type ChainDeps, type ChainHandler, createCallChain } from '../policy/createCallChain.ts';
import type { MethodPolicy } from '../policy/MethodPolicy.ts';
import { parseBearer } from './bearerToken.ts';
import type { ClientAddressResolver } from './clientAddress.ts';
import { toServiceError } from './toServiceError.ts';

/** Typed handlers for a ts-proto `XxxServer` interface, one per RPC (a missing one fails to compile). */
export type UnaryHandlers<S> = {
  [K in keyof S as string extends K ? never : K]-?: S[K] extends handleUnaryCall<
    infer Req,
    infer Res
  >
    ? (req: Req, ctx: CallContext) => Promise<Res>
    : never;
};

export interface BindDeps {
  log: Logger;
  clientAddress: ClientAddressResolver;
  /** Every method's call policy, by gRPC path (loadMethodPolicies). */
  policies: ReadonlyMap<string, MethodPolicy>;
  /** What the policy steps need. */
  chain: ChainDeps;
  /** Observes every finished call (metrics). */
  onCallEnd?(method: string, code: status, durationMs: number): void;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

function firstString(md: Metadata, key: string): string | undefined {
  const v = md.get(key)[0];
  return typeof v === 'string' ? v : undefined;
}

/**
 * Wraps handlers as a grpc-js service implementation: request id, client address, deadline
 * signal, the method's policy chain (src/policy), structured access log, and the single error
 * mapping. A method without a call policy stops the start; one without a handler answers
 * UNIMPLEMENTED with ErrorInfo, after its policy admitted the caller.
 */
export function bindService(
  definition: ServiceDefinition,
  handlers: object,
  deps: BindDeps,
): UntypedServiceImplementation {
  const impl: UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(definition)) {
    const policy = deps.policies.get(method.path);
    if (policy === undefined) {
      throw new Error(`${method.path} has no call policy (is src/gen out of date?)`);
    }
    const chain = createCallChain(policy, deps.chain);
    const handler: ChainHandler =
      (handlers as Record<string, ChainHandler | undefined>)[name] ??
      (() =>
        Promise.reject(new AppError('NOT_IMPLEMENTED', `${method.path} is not implemented yet`)));
    impl[name] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      void runCall(method.path, call, callback, deps, (incoming) => chain(incoming, handler));
    };
  }
  return impl;
}

async function runCall(
  path: string,
  call: ServerUnaryCall<unknown, unknown>,
  callback: sendUnaryData<unknown>,
  deps: BindDeps,
  run: (incoming: IncomingCall) => Promise<unknown>,
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
  // Sent right before the answer, so headers and message leave in one write.
  const sendRequestId = () => {
    const responseMd = new Metadata();
    responseMd.set('x-request-id', requestId);
    call.sendMetadata(responseMd);
  };

  let code: status = status.OK;
  try {
    const response = await run({
      path,
      request: call.request,
      info: { clientIp, userAgent, requestId },
      get log() {
        return callLog();
      },
      signal: abort.signal,
      bearer: () => parseBearer(firstString(md, 'authorization')),
    });
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
    deps.onCallEnd?.(path, code, durationMs);
    if (deps.log.isLevelEnabled('info')) {
      callLog().info(
        { code: status[code], durationMs: Math.round(durationMs * 10) / 10, peer: clientIp },
        'call',
      );
    }
  }
}
