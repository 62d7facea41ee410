import { dictionary } from '@zxcvbn-ts/language-common';
import type { FieldViolation } from '../errors/AppError.ts';

export interface PasswordPolicy {
  /** Violations of the policy (empty when the password is acceptable); call before hashing. */
  check(
    password: string,
    context: { email?: string; username?: string },
    field?: string,
  ): FieldViolation[];
}

// ~49k common passwords shipped with @zxcvbn-ts/language-common, loaded once.
let common: Set<string> | undefined;
function commonPasswords(): Set<string> {
  common ??= new Set(
    (dictionary['passwords-common'] as string[]).map((p) => p.normalize('NFKC').toLowerCase()),
  );
  return common;
}

/**
 * NIST SP 800-63B policy: length in code points after NFKC, a hard maximum checked before any
 * hashing, no composition rules, no common passwords, nothing built from the account's own
 * email local part or username.
 */
export function createPasswordPolicy(minLength: number, maxLength: number): PasswordPolicy {
  commonPasswords();
  return {
    check(password, context, field = 'password') {
      // Cheap bound first: no normalisation work on absurd input (4 UTF-16 units per code point max).
      if (password.length > maxLength * 4) {
        return [{ field, description: `at most ${maxLength} characters`, reason: 'TOO_LONG' }];
      }
      const normalized = password.normalize('NFKC');
      const length = [...normalized].length;
      if (length < minLength) {
        return [{ field, description: `at least ${minLength} characters`, reason: 'TOO_SHORT' }];
      }
      if (length > maxLength) {
        return [{ field, description: `at most ${maxLength} characters`, reason: 'TOO_LONG' }];
      }
      const lowered = normalized.toLowerCase();
      if (commonPasswords().has(lowered)) {
        return [
          {
            field,
            description: 'this password is too common; choose another',
            reason: 'COMMON_PASSWORD',
          },
        ];
      }
      const local = context.email?.split('@')[0]?.normalize('NFKC').toLowerCase();
      const username = context.username?.normalize('NFKC').toLowerCase();
      for (const part of [local, username]) {
        if (part !== undefined && part.length >= 3 && lowered.includes(part)) {
          return [
            {
              field,
              description: 'the password must not contain your email name or username',
              reason: 'CONTAINS_IDENTIFIER',
            },
          ];
        }
      }
      return [];
    },
  };
}
