import { z } from 'zod';
import { MIN_QUEUE_SIGNING_KEY_BYTES } from './job-signature.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * Parses the environment once, at start, against a service's zod schema. Every problem is reported together,
 * each naming its variable, so a misconfigured deployment fails with one readable message.
 *
 * @example const config = parseConfig(ingestConfigSchema, process.env)
 */
export function parseConfig<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv): z.infer<T> {
  // An empty variable means "not set": docker-compose and shells often pass VAR= for optional settings.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const name = issue.path.join('.') || '(environment)';
      return issue.code === 'invalid_type' && cleaned[name] === undefined
        ? `${name} is required but not set`
        : `${name}: ${issue.message}`;
    }),
  );
}

/** Reusable pieces of the services' config schemas. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  list: () =>
    z
      .string()
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ),
  redisUrl: () => z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  databaseUrl: () => z.url({ protocol: /^postgres(ql)?$/ }),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  nodeEnv: () => z.enum(['development', 'production', 'test']).default('development'),
  /** QUEUE_SIGNING_KEY and QUEUE_SIGNING_KEY_PREVIOUS: a random string of at least 32 bytes. */
  queueSigningKey: () =>
    z
      .string()
      .refine((key) => Buffer.byteLength(key, 'utf8') >= MIN_QUEUE_SIGNING_KEY_BYTES, {
        message: `must be at least ${MIN_QUEUE_SIGNING_KEY_BYTES} bytes, the same random string in ingest, the worker and the query service (e.g. openssl rand -hex 32)`,
      }),
};
