import pino from 'pino';
import pretty from 'pino-pretty';

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
  // An API key's secret (CreateServiceAccountKey's response field, the CLI's result).
  'secret',
  '*.secret',
];

/** json: one JSON object per line (production, log pipelines); pretty: for people reading along. */
export type LogFormat = 'json' | 'pretty';

/**
 * Structured logger with secrets redacted by field name (in both formats: redaction happens
 * before formatting). `pretty` renders lines like `12:00:01.123 INFO: gatehouse is listening`
 * with the fields below them, coloured on a terminal; written synchronously like the JSON.
 */
export function createLogger(
  level: string,
  format: LogFormat = 'json',
  /** Where lines go; stdout by default (tests pass a stream to read them). */
  destination?: NodeJS.WritableStream,
  /** Fields added to every line, e.g. the active trace's ids (only passed when tracing is on). */
  mixin?: () => object,
): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'gatehouse' },
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...(mixin === undefined ? {} : { mixin }),
  };
  if (format === 'pretty') {
    return pino(
      options,
      pretty({
        destination: destination ?? 1,
        sync: true,
        colorize: destination === undefined && Boolean(process.stdout.isTTY),
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname,service',
      }),
    );
  }
  return destination === undefined
    ? pino(options)
    : pino(options, destination as pino.DestinationStream);
}
