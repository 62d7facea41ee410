import type { AuthDeps } from '../auth/AuthDeps.ts';
import type { PageTokens } from './createPageTokens.ts';

/** What the admin use cases need: the auth dependencies plus the page-token codec. */
export interface AdminDeps extends AuthDeps {
  pageTokens: PageTokens;
}
