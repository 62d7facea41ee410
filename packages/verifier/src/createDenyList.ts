/** A revocation as the deny-list needs it (decoded from a RevocationEvent). */
export interface Revocation {
  /** Which tokens it ends; `unspecified` (an unknown scope) applies every id it names. */
  scope: 'session' | 'user' | 'user_organization' | 'api_key' | 'unspecified';
  sessionId: string;
  userId: string;
  apiKeyId: string;
  organizationId: string;
  serviceAccountId: string;
  /** When it was committed (server clock, ms since the epoch). */
  revokeTimeMs: number;
}

/** The claims of a verified access token a revocation can match. */
export interface TokenFacts {
  /** `sub`: the user's or the service account's id. */
  subject: string;
  /** `sid`, for a session's token. */
  sessionId: string | null;
  /** `api_key_id`, for a token ExchangeApiKey minted. */
  apiKeyId: string | null;
  /** `org_id`, for a session acting in an organisation. */
  organizationId: string | null;
  /** `iat` (seconds). */
  issuedAtSec: number;
}

export interface DenyList {
  /** Records a revocation; it is kept until every token it can match has expired. */
  add(revocation: Revocation): void;
  /** True when a recorded revocation matches the token. */
  denies(token: TokenFacts): boolean;
  /** Drops the entries whose tokens have all expired by `nowMs`; returns how many. */
  prune(nowMs: number): number;
  /** Entries held, by kind (for observability and tests). */
  size(): { sessions: number; subjects: number; memberships: number; apiKeys: number };
}

export interface DenyListOptions {
  /**
   * The longest an access token lives (ms): an entry is dropped that long (plus `slackMs`) after
   * its revocation, when no token it matches can still be unexpired.
   */
  tokenLifetimeMs: () => number;
  /**
   * Clock slack (ms): the allowance for verifier/issuer clock differences, both in how long
   * entries are kept and in comparing `iat` with a revocation's time (a token issued up to this
   * long after a user-wide revocation is still refused: failing closed).
   */
  slackMs: number;
}

/** Until when an entry is kept, and the newest revocation time it stands for. */
interface Entry {
  revokeTimeMs: number;
  untilMs: number;
}

/**
 * The in-memory deny-list of a verifier, per revocation scope: SESSION by `sid`; USER by `sub`
 * for tokens issued at or before the revocation; USER_ORGANIZATION by `sub` + `org_id` likewise;
 * API_KEY by the key id for tokens minted from it at or before the revocation. Lookups are a few Map
 * reads; entries expire once the tokens they match have.
 */
export function createDenyList(options: DenyListOptions): DenyList {
  const sessions = new Map<string, Entry>();
  const subjects = new Map<string, Entry>();
  const memberships = new Map<string, Entry>();
  const apiKeys = new Map<string, Entry>();
  const membershipKey = (subject: string, organizationId: string) =>
    `${subject}\u0000${organizationId}`;

  function put(map: Map<string, Entry>, key: string, revokeTimeMs: number): void {
    if (key === '') return;
    const untilMs = revokeTimeMs + options.tokenLifetimeMs() + options.slackMs;
    const old = map.get(key);
    map.set(key, {
      revokeTimeMs: Math.max(revokeTimeMs, old?.revokeTimeMs ?? 0),
      untilMs: Math.max(untilMs, old?.untilMs ?? 0),
    });
  }

  /** Issued at or before the entry's revocation (with the clock slack): its tokens are ended. */
  const issuedBefore = (entry: Entry | undefined, issuedAtSec: number) =>
    entry !== undefined && issuedAtSec * 1000 <= entry.revokeTimeMs + options.slackMs;

  return {
    add(r) {
      const t = r.revokeTimeMs;
      // A service account has no user id; its id is the `sub` of its tokens.
      const subject = r.userId !== '' ? r.userId : r.serviceAccountId;
      switch (r.scope) {
        case 'session':
          put(sessions, r.sessionId, t);
          break;
        case 'user':
          put(subjects, subject, t);
          break;
        case 'user_organization':
          if (r.organizationId === '') put(subjects, subject, t);
          else if (subject !== '') put(memberships, membershipKey(subject, r.organizationId), t);
          break;
        case 'api_key':
          if (r.apiKeyId === '') put(subjects, subject, t);
          else put(apiKeys, r.apiKeyId, t);
          break;
        case 'unspecified':
          // A scope this version does not know: end everything the event names.
          put(sessions, r.sessionId, t);
          put(apiKeys, r.apiKeyId, t);
          if (r.organizationId !== '' && subject !== '') {
            put(memberships, membershipKey(subject, r.organizationId), t);
          } else {
            put(subjects, subject, t);
          }
          break;
      }
    },
    denies(token) {
      if (token.sessionId !== null && sessions.has(token.sessionId)) return true;
      // Issued before: a key whose service account was disabled works again once it is enabled.
      if (token.apiKeyId !== null && issuedBefore(apiKeys.get(token.apiKeyId), token.issuedAtSec)) {
        return true;
      }
      if (issuedBefore(subjects.get(token.subject), token.issuedAtSec)) return true;
      return (
        token.organizationId !== null &&
        issuedBefore(
          memberships.get(membershipKey(token.subject, token.organizationId)),
          token.issuedAtSec,
        )
      );
    },
    prune(nowMs) {
      let removed = 0;
      for (const map of [sessions, subjects, memberships, apiKeys]) {
        for (const [key, entry] of map) {
          if (entry.untilMs < nowMs) {
            map.delete(key);
            removed++;
          }
        }
      }
      return removed;
    },
    size: () => ({
      sessions: sessions.size,
      subjects: subjects.size,
      memberships: memberships.size,
      apiKeys: apiKeys.size,
    }),
  };
}
