import { loadWorkerConfig, type WorkerConfig } from '../src/config.js';

/** Environment variables a test sets; one given as undefined stays unset (it undoes a helper's own choice). */
export type EnvOverrides = Record<string, string | undefined>;

/** What the worker's configuration cannot do without; everything else keeps config.ts's default. */
const MINIMAL_ENV: EnvOverrides = { DATABASE_URL: 'postgresql://postgres@127.0.0.1/x', QUEUE_SIGNING_KEY: 'k'.repeat(32), NODE_ENV: 'test' };

/**
 * The worker's configuration as its own loader parses it from a minimal environment plus `overrides` (later ones
 * win), so a test gets the real defaults and the real checks.
 */
export function workerSettings(...overrides: EnvOverrides[]): WorkerConfig {
  return loadWorkerConfig(Object.assign({}, MINIMAL_ENV, ...overrides) as NodeJS.ProcessEnv);
}
