import { AppError } from './AppError.ts';

/**
 * The one answer for a bearer token that verified badly, expired, or belongs to a session or
 * user that is no longer live: callers cannot tell these apart, by design.
 */
export function invalidAccessToken(): AppError {
  return new AppError('INVALID_ACCESS_TOKEN', 'the access token is invalid or expired');
}
