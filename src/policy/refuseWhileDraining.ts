import { AppError } from '../errors/AppError.ts';
import type { Step } from './Step.ts';

/** Every call, first: a draining server refuses new calls (UNAVAILABLE, SHUTTING_DOWN). */
export function refuseWhileDraining(accepting: () => boolean): Step {
  return async (_call, next) => {
    if (!accepting()) {
      throw new AppError(
        'SHUTTING_DOWN',
        'the server is shutting down; retry on another instance',
        { retryAfterMs: 1000 },
      );
    }
    return next();
  };
}
