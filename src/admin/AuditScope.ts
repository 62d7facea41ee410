import type { DatabaseTransactionConnection } from 'slonik';

/** Audit details: never secrets (no passwords, tokens or hashes). */
export type AuditDetails = Record<string, string | number | boolean | null>;

/**
 * The one audit event of an audited call, as its use case adds to it. The request path opens
 * the scope (see src/policy/auditCall.ts) and writes the event whatever the outcome; a state
 * change commits together with its event through `transaction`.
 */
export interface AuditScope {
  /**
   * Sets the subject (a user, or a service account, which the event records in its details)
   * and adds details to the event this call will write.
   */
  note(note: {
    subjectUserId?: string | null;
    serviceAccountId?: string | null;
    details?: AuditDetails;
  }): void;
  /**
   * Runs `fn` in one transaction that also appends the call's success event (with what was
   * noted by then): a state change and its audit row commit together or not at all. At most
   * once per call.
   */
  transaction<T>(fn: (tx: DatabaseTransactionConnection) => Promise<T>): Promise<T>;
}
