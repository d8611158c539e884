import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export interface LoggerOptions {
  service: string;
  level?: string;
  /** Where lines go; stdout by default. Tests pass a stream to read them. */
  destination?: DestinationStream;
}

/**
 * Paths never written to logs: webhook secrets and signatures, tokens, keys and passwords, wherever they
 * appear in a logged object.
 */
export const REDACT_PATHS = [
  'secret',
  '*.secret',
  'signature',
  '*.signature',
  'token',
  '*.token',
  'password',
  '*.password',
  'privateKey',
  '*.privateKey',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers.cookie',
  'headers["x-hub-signature"]',
  'headers["x-hub-signature-256"]',
  'req.headers.authorization',
  'req.headers["x-hub-signature-256"]',
];

/**
 * The one logger factory: JSON lines (one object per line) with the service name, secrets redacted.
 * Components take child loggers (`logger.child({ component: 'queue' })`).
 *
 * @example const log = createLogger({ service: 'ingest', level: config.LOG_LEVEL })
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination,
  );
}
