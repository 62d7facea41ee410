/**
 * How the service's Node process is started: `scripts/run start` (package.json `start`), the
 * Dockerfile's CMD and the benchmark's Gatehouse process all use these, and
 * serviceRuntime.test.ts fails when one of them says otherwise.
 *
 * - `--max-old-space-size=192`: V8 otherwise lets the old generation grow toward a limit sized
 *   from the machine's memory whenever there is allocation pressure; measured under the
 *   benchmark's load, a Gatehouse instance reached 530-645 MB of RSS without it and about 320 MB
 *   with it. What the service keeps is bounded well below it: about 75 MB after start-up, the
 *   verified-token and session caches at most 16 MiB each (VERIFIED_TOKEN_CACHE_MAX_BYTES,
 *   createNearSessionCache). Raise it with NODE_OPTIONS=--max-old-space-size=<MB>, which takes
 *   precedence, when raising those bounds.
 * - `--max-semi-space-size=8`: a young generation of 3 x 8 MB instead of up to 3 x 16 MB.
 * - `MALLOC_ARENA_MAX=2`: glibc otherwise gives each thread that allocates (the libuv
 *   threadpool hashing passwords and signing tokens) an arena of its own, which it keeps.
 * - Not set: `MALLOC_MMAP_THRESHOLD_=131072`, which makes each argon2 hash's 19 MiB a fresh
 *   mapping returned at once. Measured with the benchmark's login and validate-repeated
 *   scenarios (2026-12-03): RSS at the end 209 MB instead of 259 MB, but Login 43 instead of
 *   53 calls/s, every hash faulting its memory in anew. The arenas keep what the threadpool's
 *   concurrent hashes last needed (4 x 19 MiB), and Login keeps its speed.
 */
export const SERVICE_NODE_FLAGS = ['--max-old-space-size=192', '--max-semi-space-size=8'] as const;

/** Environment of the service's process; a value already set in the environment wins. */
export const SERVICE_ENV = { MALLOC_ARENA_MAX: '2' } as const;
