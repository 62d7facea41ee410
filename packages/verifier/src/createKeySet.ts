import { importJWK, type JWK } from 'jose';

/** A published verification key: its `kid`, the one algorithm it verifies, the key. */
export interface PublishedKey {
  kid: string;
  algorithm: string;
  key: CryptoKey;
}

export interface KeySet {
  /** The key published under `kid` now, without fetching. */
  get(kid: string): PublishedKey | undefined;
  /**
   * The key published under `kid`, fetching the JWKS again when it is unknown: at most once per
   * `minRefetchIntervalMs`, and concurrent misses share that one fetch. Undefined when the
   * refetched set (or the rate limit) leaves it unknown.
   */
  resolve(kid: string): Promise<PublishedKey | undefined>;
  /** Resolves after the first successful fetch (rejects only on `close()`). */
  readonly ready: Promise<void>;
  /** Fetches started so far (initial, periodic and on unknown kids). */
  fetches(): number;
  close(): void;
}

export interface KeySetOptions {
  /** Fetches the JWK Set document (GetJwks' `jwks_json`). */
  fetchJwks: () => Promise<string>;
  /** Periodic refresh, so retired keys disappear and new ones appear without a miss. */
  refreshIntervalMs: number;
  /** Rate limit of refetches caused by unknown kids. */
  minRefetchIntervalMs: number;
  /** Told about a failed fetch (the previous set stays in use). */
  onError: (error: unknown) => void;
}

// Members only private keys have: a JWKS carrying one is refused, key by key.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** The verification keys of a JWK Set document: public signing keys with `kid` and `alg`. */
async function parseJwks(json: string): Promise<Map<string, PublishedKey>> {
  const doc = JSON.parse(json) as { keys?: unknown };
  if (!Array.isArray(doc.keys)) throw new Error('the JWKS has no "keys" array');
  const keys = new Map<string, PublishedKey>();
  for (const jwk of doc.keys as JWK[]) {
    if (typeof jwk !== 'object' || jwk === null) continue;
    if (typeof jwk.kid !== 'string' || typeof jwk.alg !== 'string') continue;
    if (jwk.use !== undefined && jwk.use !== 'sig') continue;
    if (PRIVATE_MEMBERS.some((m) => m in jwk)) continue;
    let key: CryptoKey | Uint8Array;
    try {
      key = await importJWK(jwk, jwk.alg);
    } catch {
      continue; // an algorithm this runtime cannot verify: its tokens fail as UNKNOWN_KEY
    }
    if (key instanceof Uint8Array) continue;
    keys.set(jwk.kid, { kid: jwk.kid, algorithm: jwk.alg, key });
  }
  return keys;
}

/**
 * The verifier's copy of Gatehouse's JWKS: fetched at start (retried until it succeeds),
 * refreshed periodically, refetched on an unknown `kid` with a rate limit so that tokens with
 * made-up kids cannot make the verifier hammer Gatehouse.
 */
export function createKeySet(options: KeySetOptions): KeySet {
  let keys = new Map<string, PublishedKey>();
  let inFlight: Promise<void> | undefined;
  let lastMissFetchAt = Number.NEGATIVE_INFINITY;
  let fetchCount = 0;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;
  let markReady: () => void = () => {};
  let failReady: (error: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  // Rejects only on close(); nobody has to listen.
  ready.catch(() => {});

  function schedule(ms: number): void {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => void fetchNow(), ms);
    timer.unref();
  }

  function fetchNow(): Promise<void> {
    inFlight ??= (async () => {
      fetchCount++;
      try {
        keys = await parseJwks(await options.fetchJwks());
        failures = 0;
        markReady();
        schedule(options.refreshIntervalMs);
      } catch (error) {
        failures++;
        if (!closed) options.onError(error);
        // Until the first success, retry soon (backing off); afterwards, at the usual pace.
        schedule(Math.min(options.refreshIntervalMs, 250 * 2 ** Math.min(failures, 7)));
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  }

  void fetchNow();

  return {
    get: (kid) => keys.get(kid),
    async resolve(kid) {
      const known = keys.get(kid);
      if (known !== undefined) return known;
      if (inFlight === undefined) {
        // Only refetches for unknown kids count against the limit: a periodic refresh that just
        // ran must not keep a newly rotated key out.
        if (Date.now() - lastMissFetchAt < options.minRefetchIntervalMs) return undefined;
        lastMissFetchAt = Date.now();
      }
      await fetchNow();
      return keys.get(kid);
    },
    ready,
    fetches: () => fetchCount,
    close() {
      closed = true;
      clearTimeout(timer);
      failReady(new Error('closed'));
    },
  };
}
