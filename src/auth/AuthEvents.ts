import type { RevocationReason } from '../domain/Session.ts';

/**
 * What the auth use cases report for observability (metrics). Kept as plain callbacks so the
 * domain knows nothing about Prometheus; every method is optional to call sites' indifference.
 */
export interface AuthEvents {
  login(outcome: 'success' | 'failure'): void;
  lockout(): void;
  refreshReuse(): void;
  sessionsCreated(count: number): void;
  sessionsRevoked(count: number, reason: RevocationReason): void;
  passwordHash(op: 'hash' | 'verify', seconds: number): void;
}
