import { type MfaEnrollmentRule, mustEnrol } from '../auth/createFactorPresenceCache.ts';
import { AppError } from '../errors/AppError.ts';
import type { MethodPolicy } from './MethodPolicy.ts';
import type { Step } from './Step.ts';

/**
 * The calls a session that must enrol a second factor may still make: enrolment itself, what a
 * client needs to show the user why (the factors, the current user), and ending the session.
 * Refresh and Logout take no bearer principal and never reach this step; they are listed so the
 * list says the whole rule. The passkey registration calls belong here too.
 */
export const ENROLMENT_CALLS: ReadonlySet<string> = new Set(
  [
    'StartTotpEnrollment',
    'ConfirmTotpEnrollment',
    'ListAuthFactors',
    'GetCurrentUser',
    'Logout',
    'Refresh',
    'StartPasskeyRegistration',
    'FinishPasskeyRegistration',
  ].map((m) => `/gatehouse.auth.v1.AuthService/${m}`),
);

/**
 * MFA_REQUIRED_ROLES: a session whose user holds such a role (as the session state holds the
 * roles now: live within the session cache's bounds) and has no confirmed second factor may only
 * make the enrolment calls; anything else is FAILED_PRECONDITION, MFA_ENROLLMENT_REQUIRED.
 * Users without such a role pay one array check; holders pay an in-process cache read.
 * API-key principals are not sessions and are not held to it (their keys were created by a
 * session, which this rule stops before it can create any).
 */
export function requireMfaEnrollmentStep(
  policy: MethodPolicy,
  rule: MfaEnrollmentRule,
): Step | null {
  if (rule.requiredRoles.length === 0) return null;
  if (policy.caller !== 'authenticated' || !policy.principalKinds.includes('user')) return null;
  if (ENROLMENT_CALLS.has(policy.path)) return null;
  return async (call, next) => {
    const principal = call.principal;
    if (principal === undefined) throw new Error(`${call.path}: enrolment needs a principal`);
    if (principal.kind === 'user' && (await mustEnrol(rule, principal.userId, principal.roles))) {
      throw new AppError(
        'MFA_ENROLLMENT_REQUIRED',
        'your role requires a second factor: enrol one (StartTotpEnrollment, then ConfirmTotpEnrollment) before anything else',
      );
    }
    return next();
  };
}
