import { randomBytes } from 'node:crypto';
import type { Tokens, User } from '../../src/gen/gatehouse/auth/v1/auth_service.ts';
import { call, type Gatehouse } from './startGatehouse.ts';

export const PASSWORD = 'violet-harbour-anchors-9';

/** A unique email for this run. */
export function uniqueEmail(prefix = 'user'): string {
  return `${prefix}.${randomBytes(5).toString('hex')}@example.test`;
}

/** Registers a user through the real RPC and returns what the client got back. */
export async function registerUser(
  gh: Gatehouse,
  overrides: { email?: string; password?: string; username?: string } = {},
): Promise<{ user: User; tokens: Tokens; email: string; password: string }> {
  const email = overrides.email ?? uniqueEmail();
  const password = overrides.password ?? PASSWORD;
  const res = await call(gh.auth, 'register', {
    email,
    password,
    ...(overrides.username ? { username: overrides.username } : {}),
  });
  if (!res.user || !res.tokens) throw new Error('Register returned no user or tokens');
  return { user: res.user, tokens: res.tokens, email, password };
}
