/**
 * Who is calling, resolved once per call by the request path from the call's credential and
 * handed to use cases as a value: use cases never read metadata. A union by `kind`, so a new
 * kind of caller (a service account, an API key) is a new member every `switch` must handle.
 */
export type Principal = UserPrincipal;

/** A user signed in with a live session (current roles, read with the session's state). */
export interface UserPrincipal {
  kind: 'user';
  userId: string;
  sessionId: string;
  roles: string[];
}

/** The kinds of principal, as a call policy names them (`principal_kinds`). */
export type PrincipalKind = Principal['kind'];
