import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export interface LoggerOptions {
  service: string;
  level?: string;
  /**
   * Where lines go; stdout by default, written asynchronously: while one write is in flight the next lines
   * gather and go out together, instead of a blocking write per line on the request path. pino flushes what is
   * left when the process exits. Tests pass a stream to read them.
   */
  destination?: DestinationStream;
}

/** Field names whose values never reach a log line. */
const SECRET_FIELDS = ['secret', 'signature', 'token', 'password', 'privateKey', 'authorization'];

/**
 * Objects logged whole (errors, configuration, request headers, credentials): a secret-named field inside one of
 * them is redacted too.
 *
 * Listed rather than matched with `*.secret`: pino runs a wildcard path's redactor on every field of every line,
 * strings and numbers included, which made each line about 2.7 times as expensive and allocated some 8 KB.
 * A named path only runs when its first segment is a key of the logged object.
 */
const SECRET_CONTAINERS = ['err', 'error', 'config', 'options', 'auth', 'credentials', 'headers', 'req', 'request', 'res', 'response'];

/** Paths never written to logs: webhook secrets and signatures, tokens, keys and passwords. */
export const REDACT_PATHS = [
  ...SECRET_FIELDS,
  ...SECRET_CONTAINERS.flatMap((container) => SECRET_FIELDS.map((field) => `${container}.${field}`)),
  'headers.cookie',
  'headers["x-hub-signature"]',
  'headers["x-hub-signature-256"]',
  'req.headers.authorization',
  'req.headers.cookie',
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
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
