import type { AdmitAccount, RequestInfo } from '../auth/AuthDeps.ts';
import type { MfaEnrollmentRule } from '../auth/createFactorPresenceCache.ts';
import type { PermissionCache } from '../authz/createPermissionCache.ts';
import type { RateLimitBudgets } from '../ratelimit/createRateLimitBudgets.ts';
import type { DatabasePool } from '../storage/createDatabase.ts';
import { auditCall } from './auditCall.ts';
import { authenticateCaller, type VerifyBearer } from './authenticateCaller.ts';
import type { CallContext, ChainCall, IncomingCall } from './CallContext.ts';
import type { MethodPolicy } from './MethodPolicy.ts';
import { refuseWhileDraining } from './refuseWhileDraining.ts';
import { requireMfaEnrollmentStep } from './requireMfaEnrollment.ts';
import { requirePermissionStep } from './requirePermission.ts';
import { requireRecentAuthStep } from './requireRecentAuth.ts';
import { requireRoleStep } from './requireRole.ts';
import type { Step } from './Step.ts';
import { spendSourceBudget } from './spendSourceBudget.ts';

/** What the policy steps need, built once in the composition root. */
export interface ChainDeps {
  /** False while the server drains. */
  accepting(): boolean;
  limits: Pick<RateLimitBudgets, 'admitSource' | 'admitAccount' | 'admitApiKey'>;
  verifyBearer: VerifyBearer;
  /** Role checks and audit events. */
  pool: DatabasePool;
  /** Permission checks of `required_permission` (the AuthorizationService cache). */
  permissions: PermissionCache;
  /** MFA_REQUIRED_ROLES and who has a second factor. */
  mfaEnrollment: MfaEnrollmentRule;
  /** REAUTHENTICATION_WINDOW_SEC, for `requires_recent_auth`. */
  reauthenticationWindowSec: number;
}

/** The handler at the end of the chain. */
export type ChainHandler = (request: unknown, ctx: CallContext) => Promise<unknown>;

/** A method's chain: runs a call through its policy's steps into `handler`. */
export type CallChain = (call: IncomingCall, handler: ChainHandler) => Promise<unknown>;

/**
 * The one request path every RPC takes, built once per method from its policy: draining check
 * (UNAVAILABLE) -> audit scope (if audited: everything after it is recorded) -> per-source
 * budget (RESOURCE_EXHAUSTED) -> caller (UNAUTHENTICATED) -> second-factor enrolment under
 * MFA_REQUIRED_ROLES (FAILED_PRECONDITION) -> recent authentication, for `requires_recent_auth`
 * (FAILED_PRECONDITION) -> role, or role or permission in the request's organisation
 * (PERMISSION_DENIED) -> handler. Steps a policy does not ask for are left out, so an unlimited anonymous call costs
 * one check.
 */
export function createCallChain(policy: MethodPolicy, deps: ChainDeps): CallChain {
  const steps = [
    refuseWhileDraining(deps.accepting),
    auditCall(policy, deps.pool),
    spendSourceBudget(policy, deps.limits),
    authenticateCaller(policy, deps.verifyBearer, deps.limits),
    requireMfaEnrollmentStep(policy, deps.mfaEnrollment),
    requireRecentAuthStep(policy, deps.pool, deps.reauthenticationWindowSec),
    policy.requiredPermission === null
      ? requireRoleStep(policy, deps.pool)
      : requirePermissionStep(policy, deps.pool, deps.permissions),
  ].filter((s): s is Step => s !== null);
  return (incoming, handler) => {
    const call: ChainCall = incoming;
    const ctx = new ChainContext(call, policy, deps.limits);
    const run = (i: number): Promise<unknown> => {
      const step = steps[i];
      return step === undefined ? handler(call.request, ctx) : step(call, () => run(i + 1));
    };
    return run(0);
  };
}

/**
 * What a handler knows of its call, read from the call as the policy steps left it. A class,
 * so a call costs one small object: its accessors live on the prototype, and the account
 * budget's function is made only for a handler that asks for it.
 */
class ChainContext implements CallContext {
  readonly requestId: string;
  readonly clientIp: string;
  readonly userAgent: string;
  readonly info: RequestInfo;
  private readonly call: ChainCall;
  private readonly policy: MethodPolicy;
  private readonly limits: ChainDeps['limits'];
  #admitAccount: AdmitAccount | undefined;

  constructor(call: ChainCall, policy: MethodPolicy, limits: ChainDeps['limits']) {
    this.call = call;
    this.policy = policy;
    this.limits = limits;
    this.info = call.info;
    this.requestId = call.info.requestId;
    this.clientIp = call.info.clientIp;
    this.userAgent = call.info.userAgent;
  }

  get log() {
    return this.call.log;
  }

  get signal() {
    return this.call.signal;
  }

  get principal() {
    if (this.call.principal === undefined) {
      throw new Error(`${this.policy.path}: its call policy resolves no principal`);
    }
    return this.call.principal;
  }

  get bearerToken() {
    if (this.policy.caller !== 'bearer_signature_only') return undefined;
    const bearer = this.call.bearer();
    return bearer.kind === 'token' ? bearer.token : undefined;
  }

  /** A function of its own (handlers pass it on), spending the budget the policy names. */
  get admitAccount(): AdmitAccount {
    if (this.#admitAccount === undefined) {
      const { policy, limits, call } = this;
      const budget = policy.accountBudget;
      this.#admitAccount =
        budget === null
          ? () => Promise.reject(new Error(`${policy.path} declares no account budget`))
          : (account) => limits.admitAccount(budget, account, call.info.clientIp);
    }
    return this.#admitAccount;
  }

  get audit() {
    if (this.call.audit === undefined) {
      throw new Error(`${this.policy.path}: its call policy audits nothing`);
    }
    return this.call.audit;
  }

  get access() {
    if (this.call.access === undefined) {
      throw new Error(`${this.policy.path}: its call policy requires no role or permission`);
    }
    return this.call.access;
  }
}
