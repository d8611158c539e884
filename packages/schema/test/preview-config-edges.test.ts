import { describe, expect, it } from '@jest/globals';
import {
  MAX_ADDONS,
  MAX_JOBS,
  MAX_PREVIEW_CONFIG_BYTES,
  branchSlug,
  parsePreviewConfig,
  previewConfigJsonSchema,
  routesByPrefix,
  storageBytes,
  type ConfigLimits,
  type ConfigProblem,
} from '../src/index.js';

// The edges of `.ephemera.yml`'s rules: each limit at and one past its value, and the message each refusal gives.

const service = (name: string, port = true) => `  ${name}:\n    image: ghcr.io/acme/${name}:{{sha}}\n${port ? '    port: 80\n' : ''}`;
const file = (services: string, rest = '') => `version: 1\nservices:\n${services}${rest}`;
const ONE = service('web');

function problems(text: string, limits?: ConfigLimits): ConfigProblem[] {
  const result = parsePreviewConfig(text, limits);
  if (result.ok) throw new Error(`expected problems, got ${JSON.stringify(result.config)}`);
  return result.problems;
}
const messages = (text: string, limits?: ConfigLimits) => problems(text, limits).map((p) => `${p.path}: ${p.message}`);
const ok = (text: string, limits?: ConfigLimits) => {
  const result = parsePreviewConfig(text, limits);
  expect(result.ok ? 'ok' : result.problems).toBe('ok');
};

describe('how many', () => {
  const names = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

  it('services: at least one, at most 20', () => {
    expect(messages('version: 1\nservices: {}\n')).toEqual(['services: at least one service (line 2)']);
    const twenty = names(20, 's').map((n, i) => service(n, i === 0)).join('');
    ok(file(twenty, 'expose: s0\n'));
    expect(messages(file(twenty + service('s20', false), 'expose: s0\n'))).toEqual(['services: at most 20 services (line 3)']);
  });

  it(`add-ons: at most ${MAX_ADDONS}`, () => {
    const addons = (n: number) => `addons:\n${names(n, 'a').map((a) => `  ${a}: { type: redis, url_env: URL_${a} }\n`).join('')}`;
    ok(file(ONE, addons(MAX_ADDONS)));
    expect(messages(file(ONE, addons(MAX_ADDONS + 1)))).toEqual([`addons: at most ${MAX_ADDONS} add-ons (line 7)`]);
  });

  it(`jobs: at most ${MAX_JOBS}`, () => {
    const jobs = (n: number) => `jobs:\n${names(n, 'j').map((j) => `  ${j}: { image: x, when: before_deploy }\n`).join('')}`;
    ok(file(ONE, jobs(MAX_JOBS)));
    expect(messages(file(ONE, jobs(MAX_JOBS + 1)))).toEqual([`jobs: at most ${MAX_JOBS} jobs (line 7)`]);
  });

  it("replicas: up to the installation's maximum", () => {
    ok(file(`${ONE}    replicas: 3\n`), { maxReplicas: 3 });
    expect(messages(file(`${ONE}    replicas: 4\n`), { maxReplicas: 3 })).toEqual(['services.web.replicas: at most 3 on this installation (line 6)']);
  });

  it(`the file: up to ${MAX_PREVIEW_CONFIG_BYTES / 1024} KiB`, () => {
    const base = file(ONE, '# ');
    const exactly = base + 'x'.repeat(MAX_PREVIEW_CONFIG_BYTES - Buffer.byteLength(base));
    expect(Buffer.byteLength(exactly)).toBe(MAX_PREVIEW_CONFIG_BYTES);
    ok(exactly);
    expect(messages(`${exactly}x`)).toEqual([': larger than 64 KiB']);
  });
});

describe('add-on storage', () => {
  it('reads a quantity without a suffix as bytes', () => {
    expect(storageBytes('512')).toBe(512);
    expect(storageBytes('1k')).toBe(1000);
  });

  it('takes one byte, refuses none, and says what it wants when given a number', () => {
    ok(file(ONE, 'addons:\n  db: { type: postgres, storage: "1" }\n'));
    expect(messages(file(ONE, 'addons:\n  db: { type: postgres, storage: "0.5" }\n'))).toEqual(['addons.db.storage: more than 0 (line 7)']);
    expect(messages(file(ONE, 'addons:\n  db: { type: postgres, storage: 5 }\n'))).toEqual(['addons.db.storage: a storage quantity such as 1Gi or 512Mi (line 7)']);
  });

  it('says an add-on is a mapping, not one of the types, when it is not a mapping', () => {
    const [message] = messages(file(ONE, 'addons:\n  db: 5\n'));
    expect(message).toMatch(/^addons\.db: /);
    expect(message).not.toMatch(/one of postgres/);
  });
});

describe('what the messages say', () => {
  it('names one unknown key as a key and several as keys', () => {
    expect(messages(file(`${ONE}    colour: red\n`))).toEqual(['services.web: unknown key: colour (line 4)']);
    expect(messages(file(`${ONE}    colour: red\n    size: 2\n`))).toEqual(['services.web: unknown keys: colour, size (line 4)']);
  });

  it("gives the name's own reason for an invalid name", () => {
    expect(messages(file(service('Web')))).toEqual([expect.stringMatching(/^services\.Web: invalid name: a DNS-1123 label/)]);
  });

  it('reports a YAML error with its position and no trailing colon, and a duplicate key', () => {
    const [yaml] = messages('version: 1\nservices: [\n');
    expect(yaml).toMatch(/^: invalid YAML: .+ at line \d+, column \d+$/);
    expect(messages('version: 1\nversion: 1\n')).toEqual([expect.stringMatching(/^: invalid YAML: Map keys must be unique at line 2, column 1$/)]);
  });

  it('reports an alias as invalid YAML', () => {
    expect(messages(file(ONE, 'x: &a [1]\ny: *a\n'))).toEqual([expect.stringMatching(/^: invalid YAML: .*alias/i)]);
  });

  it('a health check needs a port; a job has none to need', () => {
    expect(messages(file(service('web', false), '    health: { path: /healthz }\nroutes: [{ path: /, service: web }]\n'))).toEqual(
      expect.arrayContaining(['services.web.health: needs `port` (the probe runs on it) (line 5)']),
    );
    ok(file(`${ONE}    health: { path: /healthz }\n`));
  });

  it('expose: names a service; needed among several; the exposed one has a port', () => {
    expect(messages(file(ONE, 'expose: api\n'))).toEqual(['expose: names no service (services: web) (line 6)']);
    expect(messages(file(ONE + service('api')))).toEqual(['expose: required when there are several services (web, api)']);
    expect(messages(file(service('web', false)))).toEqual(['services.web.port: required for the exposed service (line 4)']);
    expect(messages(file(ONE + service('api', false), 'expose: api\n'))).toEqual(['services.api.port: required for the exposed service (line 7)']);
    ok(file(ONE + service('worker', false), 'expose: web\n'));
  });

  it('deploy.wait_for: an entry names a check or a status; an App goes with a check', () => {
    expect(messages(file(ONE, 'deploy:\n  wait_for:\n    - { check: a, status: b }\n'))).toEqual([
      'deploy.wait_for.0: an entry names either `check` or `status`, not both and not neither (line 8)',
    ]);
    expect(messages(file(ONE, 'deploy:\n  wait_for:\n    - { status: b, app: github-actions }\n'))).toEqual([
      'deploy.wait_for.0.app: `app` goes with `check` (commit statuses are not made by an App) (line 8)',
    ]);
  });
});

describe('placeholders', () => {
  it('are looked for in env strings, command and args, with their paths; numbers and booleans are left alone', () => {
    const text = file(`${ONE}    env: { A: "{{nope}}", N: 3, B: true }\n    command: ["run", "{{cmd}}"]\n    args: ["{{arg}}"]\n`);
    expect(problems(text).map((p) => p.path)).toEqual(['services.web.env.A', 'services.web.command.1', 'services.web.args.0']);
    ok(file(`${ONE}    env: { N: 3, B: true, S: "{{sha}}" }\n`));
  });

  it('fold a branch with no letter or digit to "branch"', () => {
    expect(branchSlug('---')).toBe('branch');
    expect(branchSlug('')).toBe('branch');
  });
});

describe('routes', () => {
  it('of equal length keep file order, wherever they stand', () => {
    const routes = ['/b', '/a', '/c', '/dd', '/e'].map((path) => ({ path, service: 'web' }));
    expect(routesByPrefix(routes).map((r) => r.path)).toEqual(['/dd', '/b', '/a', '/c', '/e']);
  });
});

describe('the JSON Schema for editors', () => {
  it('is draft 2020-12 and titled', () => {
    expect(previewConfigJsonSchema()).toMatchObject({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title: 'Ephemera preview configuration (.ephemera.yml)',
    });
  });
});
