import type { Logger } from '../log.ts';

/** What was started, in order, so it can be closed in reverse. */
export interface Closers {
  /** Registers how to close something just started. */
  push(close: () => Promise<void> | void): void;
  /** Closes everything registered, last first; a failing closer is logged, not fatal. */
  closeAll(): Promise<void>;
}

/** The shutdown stack of one app: a failed start and a normal stop unwind the same way. */
export function createClosers(log: Logger): Closers {
  const closers: (() => Promise<void> | void)[] = [];
  return {
    push: (close) => {
      closers.push(close);
    },
    async closeAll() {
      for (const close of closers.splice(0).reverse()) {
        await Promise.resolve()
          .then(close)
          .catch((err: unknown) => log.warn({ err }, 'error while closing'));
      }
    },
  };
}
