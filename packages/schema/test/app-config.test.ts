import { describe, expect, it } from '@jest/globals';
import {
  MAX_JOB_NAME_LENGTH,
  jobRunName,
  parsePreviewConfig,
  previewConfigJsonSchema,
  routesByPrefix,
  storageBytes,
  type ConfigLimits,
  type ConfigProblem,
} from '../src/index.js';

const APP = `version: 1
services:
  web:
    image: ghcr.io/acme/web:{{sha}}
    port: 3000
    env: { PUBLIC_URL: "{{url}}" }
  api:
    image: ghcr.io/acme/api:{{sha}}
    port: 8080
    secret_env:
      - { name: STRIPE_KEY, secret: preview-stripe, key: key }
addons:
  db:
    type: postgres
jobs:
  migrate:
    image: ghcr.io/acme/web:{{sha}}
    command: ["npm", "run", "migrate"]
    when: before_deploy
  seed:
    image: ghcr.io/acme/web:{{sha}}
    command: ["npm", "run", "seed"]
    env: { SEED_PR: "{{pr}}" }
    when: after_create
routes:
  - { path: /api, service: api }
  - { path: /, service: web }
`;

// Three services, one without a port: the base that problems are added to (lines 1-10; ROUTES is 11-13).
const BASE = `version: 1
services:
  web:
    image: ghcr.io/acme/web:{{sha}}
    port: 3000
  api:
    image: ghcr.io/acme/api:{{sha}}
    port: 8080
  worker:
    image: ghcr.io/acme/worker:{{sha}}
`;

const ROUTES = `routes:
  - { path: /api, service: api }
  - { path: /, service: web }
`;

function problems(text: string, limits?: ConfigLimits): ConfigProblem[] {
  const result = parsePreviewConfig(text, limits);
  if (result.ok) throw new Error(`expected problems, got ${JSON.stringify(result.config)}`);
  return result.problems;
}

function expectProblem(found: ConfigProblem[], path: string, reason: RegExp, line: number): void {
  const problem = found.find((p) => p.path === path);
  expect({ path, problem }).toEqual({ path, problem: expect.objectContaining({ path }) });
  expect(problem!.message).toMatch(reason);
  expect(problem!.message).toMatch(new RegExp(`\\(line ${line}\\)$`));
}

describe('a whole app: add-ons, jobs and routes', () => {
  it('reads web + api + postgres + migrate + seed + routes, filling the defaults', () => {
    expect(parsePreviewConfig(APP, { maxReplicas: 3 })).toEqual({
      ok: true,
      config: {
        version: 1,
        services: {
          web: { image: 'ghcr.io/acme/web:{{sha}}', port: 3000, replicas: 1, env: { PUBLIC_URL: '{{url}}' }, secret_env: [] },
          api: {
            image: 'ghcr.io/acme/api:{{sha}}',
            port: 8080,
            replicas: 1,
            env: {},
            secret_env: [{ name: 'STRIPE_KEY', secret: 'preview-stripe', key: 'key' }],
          },
        },
        addons: { db: { type: 'postgres', version: '16', storage: '1Gi', url_env: 'DATABASE_URL' } },
        jobs: {
          migrate: {
            image: 'ghcr.io/acme/web:{{sha}}',
            command: ['npm', 'run', 'migrate'],
            env: {},
            secret_env: [],
            when: 'before_deploy',
            timeout_seconds: 600,
          },
          seed: {
            image: 'ghcr.io/acme/web:{{sha}}',
            command: ['npm', 'run', 'seed'],
            env: { SEED_PR: '{{pr}}' },
            secret_env: [],
            when: 'after_create',
            timeout_seconds: 600,
          },
        },
        routes: [
          { path: '/api', service: 'api' },
          { path: '/', service: 'web' },
        ],
        timeout_seconds: 600,
      },
    });
  });

  it('keeps jobs in file order', () => {
    const result = parsePreviewConfig(APP.replace('  migrate:', '  zz-migrate:').replace('  seed:', '  aa-seed:'));
    expect(result.ok && Object.keys(result.config.jobs!)).toEqual(['zz-migrate', 'aa-seed']);
  });

  it('adds nothing to a file without add-ons, jobs or routes', () => {
    const result = parsePreviewConfig('version: 1\nservices:\n  web:\n    image: nginx:1.27\n    port: 80\n');
    expect(result.ok && Object.keys(result.config).sort()).toEqual(['services', 'timeout_seconds', 'version']);
  });

  it('fills each add-on type\'s version and url_env, and keeps what the file says', () => {
    const result = parsePreviewConfig(`${BASE}${ROUTES}addons:
  db: { type: mysql }
  cache: { type: redis }
  analytics: { type: postgres, version: "15.4", storage: 512Mi, url_env: ANALYTICS_DATABASE_URL }
`);
    expect(result.ok && result.config.addons).toEqual({
      db: { type: 'mysql', version: '8.4', storage: '1Gi', url_env: 'DATABASE_URL' },
      cache: { type: 'redis', version: '7', storage: '1Gi', url_env: 'REDIS_URL' },
      analytics: { type: 'postgres', version: '15.4', storage: '512Mi', url_env: 'ANALYTICS_DATABASE_URL' },
    });
  });

  it('holds storage to PREVIEW_MAX_ADDON_STORAGE: 10Gi by default, the installation\'s value when given', () => {
    const at = (size: string) => `${BASE}${ROUTES}addons:\n  db:\n    type: postgres\n    storage: ${size}\n`;
    expect(parsePreviewConfig(at('10Gi')).ok).toBe(true);
    expectProblem(problems(at('11Gi')), 'addons.db.storage', /^at most 10Gi on this installation/, 17);
    expectProblem(problems(at('10241Mi')), 'addons.db.storage', /at most 10Gi/, 17);
    expect(parsePreviewConfig(at('20Gi'), { maxReplicas: 3, maxAddonStorage: '20Gi' }).ok).toBe(true);
    expect(problems(at('2Gi'), { maxReplicas: 3, maxAddonStorage: '1500Mi' })).toEqual([
      { path: 'addons.db.storage', message: 'at most 1500Mi on this installation (line 17)' },
    ]);
    expect(() => parsePreviewConfig(at('1Gi'), { maxReplicas: 3, maxAddonStorage: 'lots' })).toThrow(/maxAddonStorage lots/);
  });

  it('gives a job 600 s unless told, at most 1800', () => {
    const job = (extra: string) => `${BASE}${ROUTES}jobs:\n  migrate:\n    image: x\n    when: before_deploy\n${extra}`;
    const result = parsePreviewConfig(job('    timeout_seconds: 1800\n'));
    expect(result.ok && result.config.jobs?.migrate?.timeout_seconds).toBe(1800);
    expectProblem(problems(job('    timeout_seconds: 1801\n')), 'jobs.migrate.timeout_seconds', /1800/, 18);
    expectProblem(problems(job('    timeout_seconds: 0\n')), 'jobs.migrate.timeout_seconds', />=\s*1|too small/i, 18);
  });

  it('names job runs <job>-<short sha>-<deployment id> within 63 characters', () => {
    expect(MAX_JOB_NAME_LENGTH).toBe(40);
    const longest = 'm'.repeat(MAX_JOB_NAME_LENGTH);
    expect(parsePreviewConfig(`${BASE}${ROUTES}jobs:\n  ${longest}: { image: x, when: before_deploy }\n`).ok).toBe(true);
    expect(jobRunName(longest, 'ABCDEF0123456789', 99_999_999_999_999)).toBe(`${longest}-abcdef0-99999999999999`);
    expect(jobRunName(longest, 'abcdef0', 99_999_999_999_999)).toHaveLength(63);
    expect(jobRunName('migrate', 'abcdef0', 42)).toBe('migrate-abcdef0-42');
    expect(() => jobRunName(longest, 'abcdef0', 999_999_999_999_999)).toThrow(/longer than 63/);
  });

  it('orders routes longest prefix first, equal lengths in file order', () => {
    expect(
      routesByPrefix([
        { path: '/', service: 'web' },
        { path: '/api', service: 'api' },
        { path: '/api/v2', service: 'api2' },
        { path: '/docs', service: 'docs' },
        { path: '/app', service: 'app' },
      ]),
    ).toEqual([
      { path: '/api/v2', service: 'api2' },
      { path: '/docs', service: 'docs' },
      { path: '/api', service: 'api' },
      { path: '/app', service: 'app' },
      { path: '/', service: 'web' },
    ]);
  });

  it('reads storage quantities', () => {
    expect(storageBytes('1Gi')).toBe(2 ** 30);
    expect(storageBytes('500M')).toBe(5e8);
    expect(storageBytes('1.5Gi')).toBe(1.5 * 2 ** 30);
    expect(storageBytes('1GB')).toBeUndefined();
  });
});

describe('bad input: the config error with path, line and reason', () => {
  it.each([
    // Add-ons.
    ['an unknown add-on type', 'addons:\n  db:\n    type: mongodb\n', 'addons.db.type', /one of postgres, mysql, redis/, 16],
    ['an add-on without a type', 'addons:\n  db:\n    version: "16"\n', 'addons.db.type', /one of postgres, mysql, redis/, 16],
    ['a version that is not digits and dots', 'addons:\n  db:\n    type: postgres\n    version: latest\n', 'addons.db.version', /digits with up to two dot parts, such as "16"/, 17],
    ['a version with a suffix', 'addons:\n  db:\n    type: redis\n    version: 7-alpine\n', 'addons.db.version', /such as "7"/, 17],
    ['an unquoted version', 'addons:\n  db:\n    type: mysql\n    version: 8.4\n', 'addons.db.version', /quoted string, such as "8.4"/, 17],
    ['storage that is not a quantity', 'addons:\n  db:\n    type: postgres\n    storage: 1GB\n', 'addons.db.storage', /storage quantity such as 1Gi/, 17],
    ['no storage at all', 'addons:\n  db:\n    type: postgres\n    storage: "0"\n', 'addons.db.storage', /more than 0/, 17],
    ['storage over the maximum', 'addons:\n  db:\n    type: postgres\n    storage: 50Gi\n', 'addons.db.storage', /at most 10Gi on this installation/, 17],
    ['an unknown add-on key', 'addons:\n  db:\n    type: postgres\n    replicas: 2\n', 'addons.db', /unknown key: replicas/, 16],
    ['an add-on name that is not a DNS label', 'addons:\n  My_DB:\n    type: postgres\n', 'addons.My_DB', /invalid name: a DNS-1123 label/, 16],
    ['an add-on name too long for a StatefulSet', `addons:\n  ${'d'.repeat(53)}:\n    type: postgres\n`, `addons.${'d'.repeat(53)}`, /at most 52 characters/, 16],
    ['an add-on named like a service', 'addons:\n  api:\n    type: postgres\n', 'addons.api', /also a service/, 16],
    ['two add-ons with the same default url_env', 'addons:\n  db:\n    type: postgres\n  legacy:\n    type: mysql\n', 'addons.legacy.url_env', /DATABASE_URL is also the url_env of add-on db: set url_env/, 18],
    ['two add-ons given the same url_env', 'addons:\n  db:\n    type: postgres\n  cache:\n    type: redis\n    url_env: DATABASE_URL\n', 'addons.cache.url_env', /set url_env/, 19],
    ['a url_env that is not a variable name', 'addons:\n  db:\n    type: postgres\n    url_env: "1URL"\n', 'addons.db.url_env', /not starting with a digit/, 17],
    // Jobs.
    ['a job without when', 'jobs:\n  migrate:\n    image: x\n', 'jobs.migrate.when', /required: before_deploy or after_create/, 16],
    ['a job with an unknown when', 'jobs:\n  migrate:\n    image: x\n    when: after_deploy\n', 'jobs.migrate.when', /one of before_deploy, after_create/, 17],
    ['a job without an image', 'jobs:\n  migrate:\n    when: before_deploy\n', 'jobs.migrate.image', /string|required/i, 16],
    ['an unknown job key', 'jobs:\n  migrate:\n    image: x\n    when: before_deploy\n    port: 80\n', 'jobs.migrate', /unknown key: port/, 16],
    ['a job name that is not a DNS label', 'jobs:\n  db_migrate:\n    image: x\n    when: before_deploy\n', 'jobs.db_migrate', /invalid name: a DNS-1123 label/, 16],
    ['a job name too long for its runs', `jobs:\n  ${'j'.repeat(41)}:\n    image: x\n    when: before_deploy\n`, `jobs.${'j'.repeat(41)}`, /at most 40 characters \(each run is the Job <name>-<short sha>-<deployment id>\)/, 16],
    ['an unknown placeholder in a job', 'jobs:\n  migrate:\n    image: "x:{{commit}}"\n    when: before_deploy\n', 'jobs.migrate.image', /unknown placeholder \{\{commit\}\}/, 16],
    ['a job variable in both env and secret_env', 'jobs:\n  migrate:\n    image: x\n    when: before_deploy\n    env: { T: a }\n    secret_env: [{ name: T, secret: s, key: k }]\n', 'jobs.migrate.secret_env.0.name', /T is also set in env/, 19],
    ['a job resource that is not a quantity', 'jobs:\n  migrate:\n    image: x\n    when: before_deploy\n    resources: { memory: lots }\n', 'jobs.migrate.resources.memory', /memory quantity/, 18],
    // Routes.
    ['routes with expose', 'expose: web\n', 'routes', /`routes` and `expose` do not go together/, 13],
    ['a route to a service without a port', '  - { path: /jobs, service: worker }\n', 'routes.2.service', /worker has no `port`/, 14],
    ['a route to no service', '  - { path: /admin, service: admin }\n', 'routes.2.service', /names no service \(services: web, api, worker\)/, 14],
    ['a duplicate path', '  - { path: /api, service: web }\n', 'routes.2.path', /\/api is already routed by routes\.0/, 14],
    ['a relative path', '  - { path: api, service: api }\n', 'routes.2.path', /an absolute path such as \/api/, 14],
    ['a trailing slash', '  - { path: /api/, service: api }\n', 'routes.2.path', /no trailing or doubled/, 14],
    ['an unknown route key', '  - { path: /v2, service: api, port: 80 }\n', 'routes.2', /unknown key: port/, 14],
  ])('refuses %s', (_what, yaml, path, reason, line) => {
    // Route cases extend the routes list; `expose` goes before it; the others follow it (from line 14).
    const text = yaml.startsWith('  - ') ? `${BASE}${ROUTES}${yaml}` : yaml.startsWith('expose') ? `${BASE}${yaml}${ROUTES}` : `${BASE}${ROUTES}${yaml}`;
    expectProblem(problems(text), path, reason, line);
  });

  it('refuses empty routes', () => {
    expectProblem(problems(`${BASE}routes: []\n`), 'routes', /at least one route/, 11);
  });

  it('still asks for expose when there are several services and no routes', () => {
    expect(problems(BASE)).toEqual([{ path: 'expose', message: 'required when there are several services (web, api, worker)' }]);
  });

  it('refuses a service or job variable that an add-on\'s url_env sets', () => {
    const found = problems(`version: 1
services:
  web:
    image: x
    port: 80
    env: { DATABASE_URL: "postgres://staging" }
  api:
    image: x
    port: 81
    secret_env: [{ name: REDIS_URL, secret: shared-redis, key: url }]
routes: [{ path: /, service: web }]
addons:
  db: { type: postgres }
  cache: { type: redis }
jobs:
  migrate:
    image: x
    when: before_deploy
    env: { DATABASE_URL: "postgres://other" }
`);
    expect(found).toEqual([
      {
        path: 'services.web.env.DATABASE_URL',
        message: "DATABASE_URL is the url_env of add-on db, which every service and job gets: remove it here or set that add-on's url_env to another name (line 6)",
      },
      { path: 'services.api.secret_env.0.name', message: expect.stringMatching(/^REDIS_URL is the url_env of add-on cache.*\(line 10\)$/) },
      { path: 'jobs.migrate.env.DATABASE_URL', message: expect.stringMatching(/^DATABASE_URL is the url_env of add-on db.*\(line 19\)$/) },
    ]);
  });

  it('refuses a secret_env naming an add-on\'s own Secret', () => {
    const found = problems(`${BASE}${ROUTES}addons:\n  db: { type: postgres }\njobs:\n  migrate:\n    image: x\n    when: before_deploy\n    secret_env: [{ name: PW, secret: db-credentials, key: password }]\n`);
    expectProblem(found, 'jobs.migrate.secret_env.0.secret', /db-credentials is the Secret of add-on db/, 20);
  });

  it('reports every problem of a round together', () => {
    const found = problems(`${BASE}expose: web
${ROUTES}addons:
  db: { type: postgres }
  other: { type: mysql }
jobs:
  migrate: { image: x }
`);
    expect(found.map((p) => p.path).sort()).toEqual(['jobs.migrate.when']);
    // Refinements need a well-formed document; fixed, the next round names the rest.
    const next = problems(`${BASE}expose: web
${ROUTES}addons:
  db: { type: postgres }
  other: { type: mysql }
jobs:
  migrate: { image: x, when: before_deploy }
`);
    expect(next.map((p) => p.path).sort()).toEqual(['addons.other.url_env', 'routes']);
  });
});

describe('the JSON Schema served to editors', () => {
  it('describes add-ons per type with their defaults, jobs with `when` required, and routes', () => {
    const schema = previewConfigJsonSchema() as {
      properties: Record<string, { additionalProperties?: { oneOf?: unknown[]; required?: string[] }; items?: { required?: string[] } }>;
    };
    const types = schema.properties.addons?.additionalProperties?.oneOf as Array<{ properties: { type: { const: string }; version: { default: string }; url_env: { default: string } } }>;
    expect(types.map((t) => [t.properties.type.const, t.properties.version.default, t.properties.url_env.default])).toEqual([
      ['postgres', '16', 'DATABASE_URL'],
      ['mysql', '8.4', 'DATABASE_URL'],
      ['redis', '7', 'REDIS_URL'],
    ]);
    expect(schema.properties.jobs?.additionalProperties?.required?.sort()).toEqual(['image', 'when']);
    expect(schema.properties.routes?.items?.required?.sort()).toEqual(['path', 'service']);
  });
});
