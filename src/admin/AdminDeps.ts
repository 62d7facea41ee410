import type { AuthDeps } from '../auth/AuthDeps.ts';

/** What the admin use cases need: the auth dependencies (page tokens included). */
export type AdminDeps = AuthDeps;
