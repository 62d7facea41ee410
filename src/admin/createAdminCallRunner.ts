import type { DatabaseTransactionConnection } from 'slonik';
import type { RequestInfo } from '../auth/AuthDeps.ts';
import { isUuid } from '../auth/normalize.ts';
import type { Principal } from '../auth/Principal.ts';
import { AppError } from '../errors/AppError.ts';
import { classifyError } from '../errors/classifyError.ts';
import type { Logger } from '../log.ts';
import { requireRole } from '../policy/requireRole.ts';
import { type AuditActionName, type AuditEventInput, insertAuditEvent } from '../storage/audit.ts';
import type { DatabasePool } from '../storage/createDatabase.ts';

/** What the runner needs to know about the call (a subset of the gRPC CallContext). */
export interface AdminRequestContext {
  requestId: string;
  clientIp: string;
  userAgent: string;
  log: Logger;
  /** Verifies the bearer token and its session; throws UNAUTHENTICATED otherwise. */
  authenticate(): Promise<Principal>;
}

/** Audit details: never secrets (no passwords, tokens or hashes). */
export type AuditDetails = Record<string, string | number | boolean | null>;

/** An admin call that passed authorization, as its operation sees it. */
export interface AdminCall {
  principal: Principal;
  info: RequestInfo;
  /** Sets the subject user and adds details to the audit event this call will write. */
  note(note: { subjectUserId?: string | null; details?: AuditDetails }): void;
  /**
   * Runs `fn` in one transaction that also appends the call's success audit event (with what
   * was noted by then): a state change and its audit row commit together or not at all.
   */
  transaction<T>(fn: (tx: DatabaseTransactionConnection) => Promise<T>): Promise<T>;
}

export type AdminOperation<Req, Res> = (req: Req, call: AdminCall) => Promise<Res>;

// Refusals by policy are 'denied'; everything else that did not succeed is a 'failure'.
const DENIED = new Set(['ADMIN_ROLE_REQUIRED', 'RATE_LIMITED']);

/** The user a request is about (`user_id`, or `user.id` of UpdateUser), for the audit event. */
function subjectOf(req: unknown): string | null {
  const r = req as { userId?: unknown; user?: { id?: unknown } } | null;
  const id = typeof r?.userId === 'string' ? r.userId : r?.user?.id;
  return typeof id === 'string' && isUuid(id.trim().toLowerCase()) ? id.trim().toLowerCase() : null;
}

/**
 * The one wrapper every UserAdminService RPC goes through: admit the source (its per-source
 * rate limit, RESOURCE_EXHAUSTED), authenticate (UNAUTHENTICATED), require the admin role
 * before any validation or lookup (PERMISSION_DENIED), run the operation, and append exactly
 * ONE audit event per call, whatever its outcome. State changes write it inside their
 * transaction (`call.transaction`); reads, refusals and failures write it afterwards on its own.
 * `admitSource` is applied here rather than by the transport so that refusals are audited too.
 */
export function createAdminCallRunner(
  pool: DatabasePool,
  admitSource: (clientIp: string) => Promise<void>,
) {
  return function adminCall<Req, Res>(
    action: AuditActionName,
    operation: AdminOperation<Req, Res>,
  ) {
    return async (req: Req, ctx: AdminRequestContext): Promise<Res> => {
      const info: RequestInfo = {
        clientIp: ctx.clientIp,
        userAgent: ctx.userAgent,
        requestId: ctx.requestId,
      };
      let actorUserId: string | null = null;
      let subjectUserId = subjectOf(req);
      let details: AuditDetails = {};
      let recorded = false;
      const event = (outcome: AuditEventInput['outcome'], extra: AuditDetails = {}) => ({
        action,
        outcome,
        actorUserId,
        subjectUserId,
        clientIp: info.clientIp,
        userAgent: info.userAgent,
        requestId: info.requestId,
        details: { ...details, ...extra },
      });
      try {
        await admitSource(info.clientIp);
        const principal = await ctx.authenticate();
        actorUserId = principal.userId;
        await requireRole(pool, principal, 'admin');
        const call: AdminCall = {
          principal,
          info,
          note(note) {
            if (note.subjectUserId !== undefined) subjectUserId = note.subjectUserId;
            if (note.details) details = { ...details, ...note.details };
          },
          async transaction(fn) {
            if (recorded) throw new Error(`${action}: only one audited transaction per call`);
            const result = await pool.transaction(async (tx) => {
              const value = await fn(tx);
              await insertAuditEvent(tx, event('success'));
              return value;
            });
            recorded = true;
            return result;
          },
        };
        const response = await operation(req, call);
        if (!recorded) {
          await insertAuditEvent(pool, event('success'));
          recorded = true;
        }
        return response;
      } catch (error) {
        if (!recorded) {
          const known = error instanceof AppError ? error : classifyError(error);
          const reason = known?.reason ?? 'INTERNAL';
          const fields = known?.fieldViolations.map((v) => v.field) ?? [];
          await insertAuditEvent(
            pool,
            event(DENIED.has(reason) ? 'denied' : 'failure', {
              reason,
              ...(fields.length > 0 ? { fields: [...new Set(fields)].join(',') } : {}),
            }),
          ).catch((err: unknown) =>
            ctx.log.warn({ err, action }, 'could not record the audit event of an admin call'),
          );
        }
        throw error;
      }
    };
  };
}
