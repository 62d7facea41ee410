/**
 * A start-up failure the operator can fix. `problems` holds one self-contained line each: what
 * is wrong (naming the variable, host and port), why, and what to do. main.ts prints them
 * without a stack and exits 1.
 */
export class StartupError extends Error {
  readonly problems: readonly string[];
  constructor(problems: string | readonly string[], options?: { cause?: unknown }) {
    const list = typeof problems === 'string' ? [problems] : problems;
    super(list.join('\n'), options);
    this.name = 'StartupError';
    this.problems = list;
  }
}
