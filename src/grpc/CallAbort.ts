import { AppError } from '../errors/AppError.ts';
import type { AbortSource } from '../transport/beginCall.ts';

const deadlineExceeded = () => new AppError('DEADLINE_EXCEEDED', 'deadline exceeded');

/**
 * A call's abort: the client cancelled, the deadline passed or (streams) the server is
 * stopping. Its AbortSignal, and the deadline's timer with it, is made only when something asks
 * for the signal (a streaming handler does; the policy steps and unary handlers do not), and a
 * passed deadline is noticed at the latest when the answer is about to leave.
 */
export class CallAbort implements AbortSource {
  readonly #deadlineMs: number;
  #controller: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #aborted = false;
  #reason: unknown;

  /** `deadlineMs`: epoch milliseconds, or Infinity for none. */
  constructor(deadlineMs: number) {
    this.#deadlineMs = deadlineMs;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.aborted) {
        this.#controller.abort(this.#reason);
      } else if (Number.isFinite(this.#deadlineMs)) {
        this.#timer = setTimeout(
          () => this.abort(deadlineExceeded()),
          Math.max(0, this.#deadlineMs - Date.now()),
        );
      }
    }
    return this.#controller.signal;
  }

  /** Whether the call is over for its handler: cancelled, stopped, or past its deadline. */
  get aborted(): boolean {
    if (!this.#aborted && Date.now() >= this.#deadlineMs) this.abort(deadlineExceeded());
    return this.#aborted;
  }

  /** Why it was aborted (an AppError). */
  get reason(): unknown {
    return this.#reason;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }

  /** Stops the deadline's timer once the call is complete. */
  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
  }
}
