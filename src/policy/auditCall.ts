import type { AuditDetails, AuditScope } from '../admin/AuditScope.ts';
import { isUuid } from '../auth/normalize.ts';
import { auditActorOf } from '../auth/Principal.ts';
import { AppError } from '../errors/AppError.ts';
import { classifyError } from '../errors/classifyError.ts';
import { type AuditRecord, recordAudit } from '../storage/audit.ts';
import type { DatabasePool } from '../storage/createDatabase.ts';
import type { MethodPolicy } from './MethodPolicy.ts';
import { ROLE_REFUSALS } from './requireRole.ts';
import type { Step } from './Step.ts';

// Refusals by policy are 'denied', and so is a delegated administrator's grant beyond its own
// permissions; everything else that did not succeed is a 'failure'.
const DENIED = new Set<string>([
  'RATE_LIMITED',
  'PERMISSION_REQUIRED',
  'GRANT_EXCEEDS_CALLER',
  ...Object.values(ROLE_REFUSALS).map((r) => r.reason),
]);

/** The id at `path` of the request (`user_id`, `user.id`), if it is a UUID, normalised. */
function subjectAt(request: unknown, path: readonly string[]): string | null {
  if (path.length === 0) return null;
  let value: unknown = request;
  for (const key of path) value = (value as Record<string, unknown> | null | undefined)?.[key];
  if (typeof value !== 'string') return null;
  const id = value.trim().toLowerCase();
  return isUuid(id) ? id : null;
}

/**
 * `audit`: exactly ONE audit event per call, whatever its outcome. It wraps the per-source
 * budget, authentication and the role check, so their refusals are recorded too ('denied' for
 * policy refusals, 'failure' with the reason otherwise). A state change writes the event inside
 * its own transaction (AuditScope.transaction); reads, refusals and failures write it afterwards
 * on its own. The actor is the principal once authenticated; the subject is the policy's
 * `subject_field` of the request until the use case notes another. A service account the call
 * is about (`subject_service_account_field`, or noted) goes into the details as
 * `service_account_id`: the table's subject column names users only.
 */
export function auditCall(policy: MethodPolicy, pool: DatabasePool): Step | null {
  if (policy.audit === null) return null;
  const { action, subjectPath, serviceAccountPath = [] } = policy.audit;
  return async (call, next) => {
    let subjectUserId = subjectAt(call.request, subjectPath);
    let serviceAccountId = subjectAt(call.request, serviceAccountPath);
    let details: AuditDetails = {};
    let recorded = false;
    const event = (outcome: AuditRecord['outcome'], extra: AuditDetails = {}): AuditRecord => ({
      outcome,
      ...auditActorOf(call.principal),
      subject: subjectUserId,
      request: call.info,
      details: {
        ...(serviceAccountId === null ? {} : { service_account_id: serviceAccountId }),
        ...details,
        ...extra,
      },
    });
    const scope: AuditScope = {
      note(note) {
        if (note.subjectUserId !== undefined) subjectUserId = note.subjectUserId;
        if (note.serviceAccountId !== undefined) serviceAccountId = note.serviceAccountId;
        if (note.details) details = { ...details, ...note.details };
      },
      async transaction(fn) {
        if (recorded) throw new Error(`${action}: only one audited transaction per call`);
        const result = await pool.transaction(async (tx) => {
          const value = await fn(tx);
          await recordAudit(tx, action, event('success'));
          return value;
        });
        recorded = true;
        return result;
      },
    };
    call.audit = scope;
    try {
      const response = await next();
      if (!recorded) {
        await recordAudit(pool, action, event('success'));
        recorded = true;
      }
      return response;
    } catch (error) {
      if (!recorded) {
        const known = error instanceof AppError ? error : classifyError(error);
        const reason = known?.reason ?? 'INTERNAL';
        const fields = known?.fieldViolations.map((v) => v.field) ?? [];
        await recordAudit(
          pool,
          action,
          event(DENIED.has(reason) ? 'denied' : 'failure', {
            reason,
            ...(fields.length > 0 ? { fields: [...new Set(fields)].join(',') } : {}),
          }),
        ).catch((err: unknown) =>
          call.log.warn({ err, action }, 'could not record the audit event of a call'),
        );
      }
      throw error;
    }
  };
}
