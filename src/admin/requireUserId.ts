import { isUuid } from '../auth/normalize.ts';
import { invalidArgument } from '../errors/AppError.ts';

/** The user id of a request, or INVALID_ARGUMENT naming `field` when it is not a UUID. */
export function requireUserId(value: string | undefined, field = 'user_id'): string {
  const id = (value ?? '').trim().toLowerCase();
  if (!isUuid(id)) {
    throw invalidArgument([
      {
        field,
        description: id === '' ? 'a user id is required' : 'must be a user id (UUID)',
        reason: id === '' ? 'REQUIRED' : 'INVALID_FORMAT',
      },
    ]);
  }
  return id;
}
