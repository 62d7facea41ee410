import { int } from './envFields.ts';

/** The revocation stream (AuthService.WatchRevocations, docs/revocations.md). */
export const revocationEnvShape = {
  REVOCATION_HEARTBEAT_SEC: int(15, 1, 3600),
  REVOCATION_RETENTION_SEC: int(86_400, 60, 90 * 86_400),
  REVOCATION_MAX_LAG: int(10_000, 10, 10_000_000),
};

export interface RevocationConfig {
  /** How often an idle stream gets a heartbeat (s). */
  heartbeatSec: number;
  /**
   * How long events are kept (s): REVOCATION_RETENTION_SEC, raised to the access-token lifetime
   * (a subscriber must be able to resume after any outage shorter than a token's life).
   */
  retentionSec: number;
  /** Events the server lets pile up behind a stream that does not read before ending it. */
  maxLag: number;
}

export function toRevocationConfig(e: {
  REVOCATION_HEARTBEAT_SEC: number;
  REVOCATION_RETENTION_SEC: number;
  REVOCATION_MAX_LAG: number;
  ACCESS_TOKEN_TTL_SEC: number;
}): RevocationConfig {
  return {
    heartbeatSec: e.REVOCATION_HEARTBEAT_SEC,
    retentionSec: Math.max(e.REVOCATION_RETENTION_SEC, e.ACCESS_TOKEN_TTL_SEC),
    maxLag: e.REVOCATION_MAX_LAG,
  };
}
