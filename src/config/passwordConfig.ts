import type { z } from 'zod';
import { type EnvRule, int } from './envFields.ts';

/** Password hashing (argon2id, never below the OWASP minimum) and the length policy. */
export const passwordEnvShape = {
  ARGON2_MEMORY_KIB: int(19_456, 19_456),
  ARGON2_TIME_COST: int(2, 2),
  ARGON2_PARALLELISM: int(1, 1, 16),
  PASSWORD_MIN_LENGTH: int(8, 8, 64),
  PASSWORD_MAX_LENGTH: int(256, 64, 1024),
};

type PasswordEnv = z.infer<z.ZodObject<typeof passwordEnvShape>>;

export interface PasswordConfig {
  argon2: { memoryCost: number; timeCost: number; parallelism: number };
  minLength: number;
  maxLength: number;
}

export const passwordEnvRules: EnvRule<PasswordEnv>[] = [
  {
    reads: ['PASSWORD_MIN_LENGTH', 'PASSWORD_MAX_LENGTH'],
    problems: (e) =>
      e.PASSWORD_MIN_LENGTH > e.PASSWORD_MAX_LENGTH
        ? ['PASSWORD_MIN_LENGTH: must not exceed PASSWORD_MAX_LENGTH']
        : [],
  },
];

export function toPasswordConfig(e: PasswordEnv): PasswordConfig {
  return {
    argon2: {
      memoryCost: e.ARGON2_MEMORY_KIB,
      timeCost: e.ARGON2_TIME_COST,
      parallelism: e.ARGON2_PARALLELISM,
    },
    minLength: e.PASSWORD_MIN_LENGTH,
    maxLength: e.PASSWORD_MAX_LENGTH,
  };
}
