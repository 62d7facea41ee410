import pino from 'pino';

export type Logger = pino.Logger;

/** Field names whose values are secrets anywhere in a log line. */
const REDACT = [
  'password',
  'currentPassword',
  'newPassword',
  'passwordHash',
  'refreshToken',
  'accessToken',
  'token',
  'authorization',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.passwordHash',
  '*.refreshToken',
  '*.accessToken',
  '*.token',
  '*.authorization',
  'privateJwk',
  '*.privateJwk',
];

/** Structured JSON logger with secrets redacted by field name. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'gatehouse' },
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
