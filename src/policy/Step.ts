import type { ChainCall } from './CallContext.ts';

/** The rest of the chain, up to and including the handler. */
export type Next = () => Promise<unknown>;

/** One policy step: checks or scopes the call, then runs the rest of the chain (or throws). */
export type Step = (call: ChainCall, next: Next) => Promise<unknown>;
