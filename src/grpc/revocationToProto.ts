import type { RevocationEventReason, RevocationScope as Scope } from '../domain/RevocationEvent.ts';
import {
  RevocationReason,
  RevocationScope,
  type WatchRevocationsResponse,
} from '../gen/gatehouse/auth/v1/auth_service.ts';
import { formatRevocationCursor } from '../revocations/revocationCursor.ts';
import type { RevocationStreamItem } from '../revocations/watchRevocations.ts';

const REASON: Record<RevocationEventReason, RevocationReason> = {
  logout: RevocationReason.REVOCATION_REASON_LOGOUT,
  session_revoked: RevocationReason.REVOCATION_REASON_SESSION_REVOKED,
  password_changed: RevocationReason.REVOCATION_REASON_PASSWORD_CHANGED,
  password_reset: RevocationReason.REVOCATION_REASON_PASSWORD_RESET,
  refresh_reuse: RevocationReason.REVOCATION_REASON_REFRESH_REUSE,
  user_disabled: RevocationReason.REVOCATION_REASON_USER_DISABLED,
  user_deleted: RevocationReason.REVOCATION_REASON_USER_DELETED,
  api_key_revoked: RevocationReason.REVOCATION_REASON_API_KEY_REVOKED,
  membership_removed: RevocationReason.REVOCATION_REASON_MEMBERSHIP_REMOVED,
  service_account_disabled: RevocationReason.REVOCATION_REASON_SERVICE_ACCOUNT_DISABLED,
  other: RevocationReason.REVOCATION_REASON_OTHER,
};

const SCOPE: Record<Scope, RevocationScope> = {
  session: RevocationScope.REVOCATION_SCOPE_SESSION,
  user: RevocationScope.REVOCATION_SCOPE_USER,
  user_organization: RevocationScope.REVOCATION_SCOPE_USER_ORGANIZATION,
  api_key: RevocationScope.REVOCATION_SCOPE_API_KEY,
};

const seconds = (s: number) => ({ seconds: String(s), nanos: 0 });

/** One message of WatchRevocations, every field named (absent ids are ""). */
export function revocationItemToProto(item: RevocationStreamItem): WatchRevocationsResponse {
  if (item.kind === 'heartbeat') {
    return {
      kind: {
        $case: 'heartbeat',
        value: {
          cursor: formatRevocationCursor(item.position),
          serverTime: item.serverTime,
          accessTokenTtl: seconds(item.accessTokenTtlSec),
          retention: seconds(item.retentionSec),
        },
      },
    };
  }
  const e = item.event;
  return {
    kind: {
      $case: 'event',
      value: {
        cursor: formatRevocationCursor(e.position),
        sessionId: e.sessionId ?? '',
        userId: e.userId ?? '',
        apiKeyId: e.apiKeyId ?? '',
        reason: REASON[e.reason],
        revokeTime: e.revokeTime,
        organizationId: e.organizationId ?? '',
        serviceAccountId: e.serviceAccountId ?? '',
        scope: SCOPE[e.scope],
      },
    },
  };
}
