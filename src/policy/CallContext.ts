import type { AuditScope } from '../admin/AuditScope.ts';
import type { AdmitAccount, RequestInfo } from '../auth/AuthDeps.ts';
import type { Principal } from '../auth/Principal.ts';
import type { CallAccess } from '../domain/CallAccess.ts';
import type { BearerToken } from '../grpc/bearerToken.ts';
import type { Logger } from '../log.ts';

/** What the transport knows about a call before any policy step runs. */
export interface IncomingCall {
  /** `/gatehouse.auth.v1.AuthService/Login`. */
  path: string;
  request: unknown;
  info: RequestInfo;
  /** The call's logger (with request id and method). */
  readonly log: Logger;
  /** Aborted when the client cancels or the deadline passes. */
  signal: AbortSignal;
  /** Reads `authorization: Bearer ...`; only steps whose policy reads a credential call it. */
  bearer(): BearerToken;
}

/** A call on its way through the policy steps: what they resolved so far. */
export interface ChainCall extends IncomingCall {
  principal?: Principal;
  audit?: AuditScope;
  access?: CallAccess;
}

/** What a handler knows about its call besides the request message, resolved by its policy. */
export interface CallContext {
  requestId: string;
  clientIp: string;
  userAgent: string;
  /** Who is asking, for sessions and audit rows. */
  info: RequestInfo;
  readonly log: Logger;
  signal: AbortSignal;
  /** The caller; only for policies with CALLER_AUTHENTICATED (else reading it is a bug). */
  readonly principal: Principal;
  /** The bearer token, unchecked; only for CALLER_BEARER_SIGNATURE_ONLY (Logout). */
  bearerToken: string | undefined;
  /** Spends the per-account budget the policy names (a bug for a policy without one). */
  admitAccount: AdmitAccount;
  /** The call's audit event; only for policies with `audit` (else reading it is a bug). */
  readonly audit: AuditScope;
  /**
   * How the caller got in: by `required_role`, or by `required_permission` in the organisation
   * the request names; only for policies with either (else reading it is a bug).
   */
  readonly access: CallAccess;
}
