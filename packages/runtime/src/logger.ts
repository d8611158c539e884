import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

interface LoggerOptions {
  service: string;
  level?: string;
  /**
   * Where lines go; stdout by default, written asynchronously: while one write is in flight the next lines
   * gather and go out together, instead of a blocking write per line on the request path. pino flushes what is
   * left when the process exits. Tests pass a stream to read them.
   */
  destination?: DestinationStream;
}

/** Field names whose values never reach a log line, at the top level of a line (pino's own redaction). */
const SECRET_FIELDS = ['secret', 'signature', 'token', 'password', 'privateKey', 'authorization'];

/** What a redacted value is replaced with. */
const REDACTED = '[redacted]';

/**
 * Paths pino redacts: the secret-named fields at the top level of a line, and request headers that carry
 * credentials. Secret-named fields deeper down are redacted by {@link redactSecrets}.
 */
const REDACT_PATHS = [
  ...SECRET_FIELDS,
  'headers.cookie',
  'headers["x-hub-signature"]',
  'headers["x-hub-signature-256"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-hub-signature-256"]',
];

/**
 * Secret names as {@link isSecretKey} compares them: lower case, without `_` and `-`. So `privateKey`,
 * `private_key` and `PRIVATE_KEY` are one name, and a configuration object logged whole (`GITHUB_WEBHOOK_SECRET`,
 * `API_TOKENS`) or request headers (`Authorization`, `X-Hub-Signature-256`) are covered by name.
 */
const SECRET_KEYS = new Set([
  'secret',
  'secrets',
  'signature',
  'token',
  'tokens',
  'password',
  'passphrase',
  'privatekey',
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'accesstoken',
  'refreshtoken',
  'idtoken',
  'apikey',
  'apitoken',
  'apitokens',
  'apiwritetokens',
  'clientsecret',
  'webhooksecret',
  'githubwebhooksecret',
  'githubappprivatekey',
  'adminpassword',
  'xhubsignature',
  'xhubsignature256',
]);

/** Whether a field's value never reaches a log line, whatever its depth. */
function isSecretKey(key: string): boolean {
  return SECRET_KEYS.has(key.toLowerCase().replace(/[-_]/g, ''));
}

/** Levels of nesting below a line's own fields that are searched for secret-named fields. */
const MAX_DEPTH = 8;

/**
 * A logged value with every secret-named field inside it, at any depth down to {@link MAX_DEPTH} and inside
 * arrays, replaced by `[redacted]`. Copy on write: the caller's objects are never changed, and a value without
 * secrets is returned as it came (no allocation).
 *
 * Objects that serialize themselves (`toJSON`: dates, buffers, URLs), typed arrays, maps and sets are left
 * alone: their fields are not what is written. An object that is copied keeps its prototype and its
 * non-enumerable properties, so an Error is still serialized as one.
 */
function redactNested(value: object, depth: number): object {
  if (depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item !== 'object' || item === null) continue;
      const redacted = redactNested(item, depth + 1);
      if (redacted !== item) {
        copy ??= value.slice();
        copy[i] = redacted;
      }
    }
    return copy ?? value;
  }
  if (
    typeof (value as { toJSON?: unknown }).toJSON === 'function' ||
    ArrayBuffer.isView(value) ||
    value instanceof Map ||
    value instanceof Set
  ) {
    return value;
  }
  let copy: Record<string, unknown> | undefined;
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const field = record[key];
    let replacement: unknown;
    if (isSecretKey(key)) {
      if (field === undefined || field === REDACTED) continue;
      replacement = REDACTED;
    } else if (typeof field === 'object' && field !== null) {
      replacement = redactNested(field, depth + 1);
      if (replacement === field) continue;
    } else {
      continue;
    }
    copy ??= cloneObject(record);
    copy[key] = replacement;
  }
  // An error's `cause` is not enumerable, but pino's error serializer writes it.
  if (value instanceof Error && typeof value.cause === 'object' && value.cause !== null) {
    const cause = redactNested(value.cause, depth + 1);
    if (cause !== value.cause) {
      copy ??= cloneObject(record);
      copy.cause = cause;
    }
  }
  return copy ?? value;
}

function cloneObject(record: Record<string, unknown>): Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(record);
  if (proto === Object.prototype || proto === null) return { ...record };
  const copy = Object.create(proto as object | null, Object.getOwnPropertyDescriptors(record)) as Record<string, unknown>;
  // Fields defined read-only or as accessors are made plain, writable values on the copy.
  for (const key of Object.keys(copy)) {
    const d = Object.getOwnPropertyDescriptor(copy, key)!;
    if (!('value' in d) || !d.writable) Object.defineProperty(copy, key, { value: record[key], writable: true, enumerable: true, configurable: true });
  }
  return copy;
}

/**
 * pino's `formatters.log`: the fields of a line whose values are objects or arrays are searched for
 * secret-named fields; strings, numbers and booleans (all a request's line holds) pass without a look.
 * Top-level secret-named fields are left to pino's own path redaction ({@link REDACT_PATHS}).
 *
 * Searched here rather than with pino wildcard paths (`*.secret`, `**.token`): pino runs a wildcard path's
 * redactor on every field of every line, strings and numbers included, which made each line about 2.7 times
 * as expensive and allocated some 8 KB; and a wildcard reaches one level only.
 */
function redactSecrets(line: Record<string, unknown>): Record<string, unknown> {
  let out = line;
  for (const key in line) {
    const value = line[key];
    if (typeof value !== 'object' || value === null) continue;
    const redacted = redactNested(value, 1);
    if (redacted !== value) {
      if (out === line) out = { ...line };
      out[key] = redacted;
    }
  }
  return out;
}

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
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      formatters: { level: (label) => ({ level: label }), log: redactSecrets },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
