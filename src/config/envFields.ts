import { z } from 'zod';

/** A whole number in [min, max] with a default; problem lines say which bound was missed. */
export const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: 'expected a whole number' })
    .int({ error: 'expected a whole number' })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` })
    .default(def);

/** A whole number in [min, max], or undefined when unset (the caller picks the default). */
export const optionalInt = (min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: 'expected a whole number' })
    .int({ error: 'expected a whole number' })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` })
    .optional();

/** A trimmed string; unset or blank = undefined. */
export const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

/** A comma-separated list, entries trimmed, empty entries dropped. */
export const list = z
  .string()
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  );

/** An optional URL checked by `problem` (null = fine). */
export const checkedUrl = (problem: (value: string) => string | null) =>
  optionalString.superRefine((value, ctx) => {
    const message = value === undefined ? null : problem(value);
    if (message !== null) ctx.addIssue({ code: 'custom', message });
  });

/**
 * A rule no single variable shows (a pairing, an order between two values). It runs only when
 * every variable it reads parsed, so a bad value is reported once, by its own line.
 */
export interface EnvRule<E> {
  reads: readonly (keyof E & string)[];
  /** One self-contained line per problem, variable name first. */
  problems(e: E): string[];
}
