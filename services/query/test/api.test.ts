import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { ALL_QUEUES, DEPLOYMENT_STATUSES, deploymentResponseSchema, environmentResponseSchema, parsePreviewConfig } from '@ephemera/schema';
import { insertEnvironment, openApiValidator, startQuery } from './support.js';

const oas = openApiValidator();

/** The documented path a concrete request path belongs to. */
function templateOf(path: string): string {
  const p = path.split('?')[0]!;
  if (p.includes('/namespace/')) return '/api/v1/environments/namespace/{namespace}';
  if (p.endsWith('/deployments')) return '/api/v1/environments/{id}/deployments';
  if (/\/environments\/[^/]+$/.test(p)) return '/api/v1/environments/{id}';
  return '/api/v1/environments';
}
type Q = Awaited<ReturnType<typeof startQuery>>;

/** A cursor as the API encodes them, with any content. */
const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('environments API', () => {
  let q: Q;
  const t0 = Date.UTC(2026, 0, 1);
  beforeAll(async () => {
    q = await startQuery();
    const plan: Array<[string, string, number]> = [
      ['acme/web', 'READY', 1],
      ['acme/web', 'DESTROYED', 2],
      ['acme/web', 'FAILED', 3],
      ['acme/api', 'READY', 1],
      ['acme/api', 'PROVISIONING', 2],
      ['other/site', 'DESTROYED', 9],
    ];
    for (const [i, [repo, status, pr]] of plan.entries()) {
      // GitHub's repository id only on the newest: the others stand for rows made before it was kept.
      const repositoryId = i === plan.length - 1 ? 9_007_199_254_740_000 : null;
      await insertEnvironment(q.db, { repo, status, pr, createdAt: new Date(t0 + i * 1000), owner: i % 2 ? 'hubot' : 'octocat', repositoryId });
    }
    const env = await q.db.environment.findFirstOrThrow({ where: { repositoryFullName: 'acme/web', prNumber: 1 } });
    for (let i = 0; i < 5; i++) {
      await q.db.deployment.create({ data: { environmentId: env.id, commitSha: String(i).repeat(40), status: 'SUCCESS', logs: `log ${i}` } });
    }
  });
  afterAll(() => q.close());

  const list = async (query: string) => {
    const res = await request(q.app).get(`/api/v1/environments${query}`);
    expect(res.status).toBe(200);
    oas.check('/api/v1/environments', 200, res.body);
    return res.body as Array<Record<string, unknown>>;
  };

  it('lists newest first with the owner embedded, snake_case fields and ISO timestamps, with or without the slash', async () => {
    const all = await list('');
    expect(all.map((e) => [e.repository_full_name, e.pr_number])).toEqual([
      ['other/site', 9], ['acme/api', 2], ['acme/api', 1], ['acme/web', 3], ['acme/web', 2], ['acme/web', 1],
    ]);
    expect(all[0]).toMatchObject({ owner: 'hubot', installation_id: 3_000_000_000, created_at: '2026-01-01T00:00:05+00:00' });
    // Exactly the schema's fields, in its order, each of its type: the JSON is derived from it.
    for (const e of all) {
      expect(Object.keys(e)).toEqual(Object.keys(environmentResponseSchema.shape));
      expect(() => environmentResponseSchema.strict().parse(e)).not.toThrow();
    }
    expect(all.map((e) => e.repository_id)).toEqual([9_007_199_254_740_000, null, null, null, null, null]);
    expect(await list('/')).toEqual(all);
  });

  it.each([
    ['?repository=acme/web', [3, 2, 1]],
    ['?repository=ACME/Web', [3, 2, 1]],
    ['?active_only=true', [2, 1, 3, 1]],
    ['?active_only=false', [9, 2, 1, 3, 2, 1]],
    ['?status=READY', [1, 1]],
    ['?status=READY&status=FAILED', [1, 3, 1]],
    ['?pr_number=2', [2, 2]],
    ['?repository=acme/web&active_only=true', [3, 1]],
    ['?repository=acme/web&status=DESTROYED', [2]],
    ['?repository=acme/api&pr_number=2&status=PROVISIONING', [2]],
    ['?active_only=true&status=DESTROYED', []],
    ['?active_only=true&status=DESTROYED&status=FAILED', [3]],
    ['?repository=nobody/none', []],
    ['?pr_number=2147483647', []],
  ])('filters %s', async (query, prs) => {
    expect((await list(query)).map((e) => e.pr_number)).toEqual(prs);
  });

  it('gets one by id and by namespace, 404 otherwise', async () => {
    const [first] = await list('?limit=1');
    const byId = await request(q.app).get(`/api/v1/environments/${first!.id}`);
    expect(byId.status).toBe(200);
    oas.check('/api/v1/environments/{id}', 200, byId.body);
    expect(byId.body).toEqual(first);
    const byNs = await request(q.app).get(`/api/v1/environments/namespace/${first!.namespace}`);
    expect(byNs.body).toEqual(first);
    for (const path of ['/api/v1/environments/999999', '/api/v1/environments/namespace/pr-1-nothing', '/api/v1/environments/999999/deployments']) {
      const res = await request(q.app).get(path);
      expect(res.status).toBe(404);
      expect(res.type).toBe('application/problem+json');
      oas.check(path.includes('namespace') ? '/api/v1/environments/namespace/{namespace}' : path.endsWith('deployments') ? '/api/v1/environments/{id}/deployments' : '/api/v1/environments/{id}', 404, res.body, 'application/problem+json');
    }
  });

  it('lists deployments newest first, paginated, with logs only when asked', async () => {
    const env = await q.db.environment.findFirstOrThrow({ where: { repositoryFullName: 'acme/web', prNumber: 1 } });
    const page1 = await request(q.app).get(`/api/v1/environments/${env.id}/deployments?limit=2`);
    expect(page1.status).toBe(200);
    oas.check('/api/v1/environments/{id}/deployments', 200, page1.body);
    expect(page1.body.map((d: { commit_sha: string }) => d.commit_sha[0])).toEqual(['4', '3']);
    expect(Object.keys(page1.body[0])).toEqual(Object.keys(deploymentResponseSchema.shape).filter((k) => k !== 'logs'));
    expect(() => deploymentResponseSchema.strict().parse(page1.body[0])).not.toThrow();
    const next = /<([^>]+)>; rel="next"/.exec(page1.headers.link ?? '')?.[1];
    expect(next).toBeDefined();
    const page2 = await request(q.app).get(new URL(next!).pathname + new URL(next!).search);
    expect(page2.body.map((d: { commit_sha: string }) => d.commit_sha[0])).toEqual(['2', '1']);
    const withLogs = await request(q.app).get(`/api/v1/environments/${env.id}/deployments?include_logs=true&limit=1`);
    oas.check('/api/v1/environments/{id}/deployments', 200, withLogs.body);
    expect(withLogs.body[0].logs).toBe('log 4');
    expect(Object.keys(withLogs.body[0])).toEqual(Object.keys(deploymentResponseSchema.shape));
  });

  it('lists a deployment waiting for its commit\'s checks as WAITING, in the documented shape', async () => {
    const env = await q.db.environment.findFirstOrThrow({ where: { repositoryFullName: 'acme/api', prNumber: 1 } });
    const waitingSince = new Date(Date.UTC(2026, 0, 2, 9, 30));
    const waiting = await q.db.deployment.create({
      data: {
        environmentId: env.id,
        commitSha: 'e'.repeat(40),
        commitMessage: 'Wait for CI',
        status: 'WAITING',
        gateChecks: ['build', { check: 'docker / push', app: 'github-actions' }],
        gateWaitingFor: '`build`, `docker / push`',
        waitingSince,
        gateDeadline: new Date(waitingSince.getTime() + 3600_000),
      },
    });
    const res = await request(q.app).get(`/api/v1/environments/${env.id}/deployments`);
    expect(res.status).toBe(200);
    oas.check('/api/v1/environments/{id}/deployments', 200, res.body);
    expect(res.body).toHaveLength(1);
    expect(res.body[0]).toMatchObject({ id: waiting.id, environment_id: env.id, status: 'WAITING', started_at: null, completed_at: null, error_message: null, waiting_for: '`build`, `docker / push`', waiting_since: '2026-01-02T09:30:00+00:00' });
    expect(() => deploymentResponseSchema.strict().parse(res.body[0])).not.toThrow();
  });

  it('links the next page with the filters, scheme and host of the request, and relatively when the Host is not a plain authority', async () => {
    const nextOf = (res: request.Response) => /^<([^>]+)>; rel="next"$/.exec(res.headers.link ?? '')?.[1];
    const first = await request(q.app).get('/api/v1/environments?repository=acme/web&status=READY&status=FAILED&limit=1').set('Host', 'ephemera.example.com:8443');
    const link = new URL(nextOf(first)!);
    expect(`${link.protocol}//${link.host}${link.pathname}`).toBe('http://ephemera.example.com:8443/api/v1/environments');
    expect([...link.searchParams.keys()]).toEqual(['repository', 'status', 'status', 'limit', 'cursor']);
    expect(link.searchParams.getAll('status')).toEqual(['READY', 'FAILED']);
    // A proxy on loopback (trusted) that terminated TLS.
    const forwarded = await request(q.app).get('/api/v1/environments?limit=1').set('Host', '[::1]:3002').set('X-Forwarded-Proto', 'https');
    expect(nextOf(forwarded)).toMatch(/^https:\/\/\[::1\]:3002\/api\/v1\/environments\?limit=1&cursor=[\w-]+$/);
    const oddHost = await request(q.app).get('/api/v1/environments/?limit=1').set('Host', 'a b<c>');
    expect(nextOf(oddHost)).toMatch(/^\/api\/v1\/environments\/\?limit=1&cursor=[\w-]+$/);
    // Following a link moves on: the second page holds the next row.
    const second = await request(q.app).get(link.pathname + link.search);
    expect(second.status).toBe(200);
    expect(second.body.map((e: { pr_number: number }) => e.pr_number)).toEqual([1]);
    expect(first.body.map((e: { pr_number: number }) => e.pr_number)).toEqual([3]);
  });

  it.each([
    ['/api/v1/environments?limit=0', 'limit'],
    ['/api/v1/environments?limit=201', 'limit'],
    ['/api/v1/environments?limit=ten', 'limit'],
    ['/api/v1/environments?cursor=not-a-cursor', 'cursor'],
    ['/api/v1/environments?repository=acme/web&limit=1&cursor=', 'cursor'],
    ['/api/v1/environments?cursor=' + Buffer.from('{"t":"x","i":1}').toString('base64url'), 'cursor'],
    ['/api/v1/environments?status=READYISH', 'status'],
    ['/api/v1/environments?active_only=yes', 'active_only'],
    ['/api/v1/environments?pr_number=-1', 'pr_number'],
    ['/api/v1/environments?pr_number=0', 'pr_number'],
    ['/api/v1/environments?pr_number=2147483648', 'pr_number'],
    ['/api/v1/environments?pr_number=99999999999999999999', 'pr_number'],
    ['/api/v1/environments?pr_number=1e400', 'pr_number'],
    ['/api/v1/environments?cursor=' + cursor({ t: '2026-01-01 00:00:00+00', i: 2_147_483_648 }), 'cursor'],
    ['/api/v1/environments?cursor=' + cursor({ t: '2026-01-01 00:00:00+00', i: 2 ** 53 }), 'cursor'],
    ['/api/v1/environments?cursor=' + cursor({ t: '2026-01-01 00:00:00+00', i: 0 }), 'cursor'],
    ['/api/v1/environments?cursor=' + cursor({ t: '2026-13-01 00:00:00+00', i: 1 }), 'cursor'],
    ['/api/v1/environments?cursor=' + cursor({ t: '2026-02-30 00:00:00+00', i: 1 }), 'cursor'],
    ['/api/v1/environments?cursor=' + cursor({ t: '2025-02-29 00:00:00+00', i: 1 }), 'cursor'],
    ['/api/v1/environments?cursor=' + cursor({ t: '1900-02-29 00:00:00+00', i: 1 }), 'cursor'],
    ['/api/v1/environments?cursor=' + cursor({ t: '2026-01-00 00:00:00+00', i: 1 }), 'cursor'],
    ['/api/v1/environments?cursor=' + cursor({ t: '2026-01-01 24:00:00+00', i: 1 }), 'cursor'],
    ['/api/v1/environments?cursor=' + cursor({ t: '2026-01-01 23:60:00+00', i: 1 }), 'cursor'],
    ['/api/v1/environments?cursor=' + cursor({ t: '2026-01-01 23:59:60+00', i: 1 }), 'cursor'],
    ['/api/v1/environments?cursor=' + cursor({ t: '0000-01-01 00:00:00+00', i: 1 }), 'cursor'],
    ['/api/v1/environments?cursor=' + cursor({ t: '2026-01-01 00:00:00.1234567+00', i: 1 }), 'cursor'],
    ['/api/v1/environments?repository=no-slash', 'repository'],
    ['/api/v1/environments/abc', 'id'],
    ['/api/v1/environments/1.5', 'id'],
    ['/api/v1/environments/99999999999', 'id'],
    ['/api/v1/environments/2147483648', 'id'],
    ['/api/v1/environments/0', 'id'],
    ['/api/v1/environments/2147483648/deployments', 'id'],
    ['/api/v1/environments/1/deployments?include_logs=maybe', 'include_logs'],
    ['/api/v1/environments/1/deployments?cursor=%%%', 'cursor'],
    ['/api/v1/environments/1/deployments?cursor=' + cursor({ i: 2_147_483_648 }), 'cursor'],
    ['/api/v1/environments/1/deployments?cursor=' + cursor({ i: -1 }), 'cursor'],
  ])('%s → 400 naming %s', async (path, parameter) => {
    const res = await request(q.app).get(path);
    expect(res.status).toBe(400);
    expect(res.type).toBe('application/problem+json');
    expect(res.body).toMatchObject({ status: 400, title: 'Bad Request', parameter });
    expect(res.body.detail).toMatch(new RegExp(`^${parameter}: `));
    oas.check(templateOf(path), 400, res.body, 'application/problem+json');
  });

  it('accepts the largest values the columns hold: an empty page or a 404, never a 500', async () => {
    expect(await list('?cursor=' + cursor({ t: '9999-12-31 23:59:59.999999+00', i: 2_147_483_647 }))).toHaveLength(6);
    expect(await list('?cursor=' + cursor({ t: '2024-02-29 23:59:59+00', i: 1 }))).toEqual([]);
    expect(await list('?cursor=' + cursor({ t: '2000-02-29 00:00:00+00', i: 1 }))).toEqual([]);
    expect(await list('?cursor=' + cursor({ t: '0001-01-01 00:00:00+00', i: 1 }))).toEqual([]);
    const env = await q.db.environment.findFirstOrThrow({ where: { repositoryFullName: 'acme/web', prNumber: 1 } });
    const deployments = await request(q.app).get(`/api/v1/environments/${env.id}/deployments?cursor=${cursor({ i: 2_147_483_647 })}`);
    expect(deployments.status).toBe(200);
    expect(deployments.body).toHaveLength(5);
    for (const path of ['/api/v1/environments/2147483647', '/api/v1/environments/2147483647/deployments']) {
      expect((await request(q.app).get(path)).status).toBe(404);
    }
  });

  it('serves an OpenAPI 3.1 document that validates, and the reference page', async () => {
    const res = await request(q.app).get('/api/v1/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    const result = await new Validator().validate(res.body);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(Object.keys(res.body.paths)).toEqual([
      '/api/v1/environments', '/api/v1/environments/{id}', '/api/v1/environments/namespace/{namespace}', '/api/v1/config-schema.json',
      '/api/v1/environments/{id}/deployments', '/api/v1/environments/{id}/redeploy', '/api/v1/environments/{id}/destroy',
    ]);
    // The documented objects are the response schemas: the same fields, in the same order, and every one
    // required except those rendered only on request.
    const { Environment, Deployment } = res.body.components.schemas;
    expect(Object.keys(Environment.properties)).toEqual(Object.keys(environmentResponseSchema.shape));
    expect(Environment.required).toEqual(Object.keys(environmentResponseSchema.shape));
    expect(Environment.properties.repository_id).toEqual({
      anyOf: [{ type: 'integer', minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }, { type: 'null' }],
    });
    expect(Object.keys(Deployment.properties)).toEqual(Object.keys(deploymentResponseSchema.shape));
    expect(Deployment.required).toEqual(Object.keys(deploymentResponseSchema.shape).filter((k) => k !== 'logs'));
    // Every deployment status, WAITING among them, straight from @ephemera/schema, and what each means.
    expect(Deployment.properties.status.enum).toEqual([...DEPLOYMENT_STATUSES]);
    expect(Deployment.properties.status.enum).toContain('WAITING');
    expect(Deployment.properties.status.description).toMatch(/WAITING: waiting for the commit's checks \(`deploy\.wait_for`/);
    const docs = await request(q.app).get('/docs/');
    expect(docs.status).toBe(200);
    expect(docs.text).toMatch(/swagger-ui/i);
  });

  it('answers /healthz, /readyz and /metrics without a token', async () => {
    expect((await request(q.app).get('/healthz')).body).toEqual({ status: 'ok' });
    expect((await request(q.app).get('/readyz')).body).toMatchObject({ database: 'ok' });
    const metrics = (await request(q.app).get('/metrics')).text;
    expect(metrics).toMatch(/query_http_requests_total\{route="\/environments",status="200"\} \d+/);
    expect(metrics).toMatch(/query_http_request_duration_seconds_bucket\{le="0.02",route="\/environments"\} \d+/);
  });

  it('does not serve Bull Board without the admin credentials', async () => {
    for (const path of ['/admin/queues', '/admin/queues/', '/admin/queues/api/queues']) {
      const res = await request(q.app).get(path);
      expect(res.status).toBe(404);
      expect(res.type).toBe('application/problem+json');
    }
  });
});

describe('pagination while rows are inserted', () => {
  let q: Q;
  beforeAll(async () => {
    q = await startQuery();
    for (let i = 0; i < 45; i++) await insertEnvironment(q.db, { repo: 'page/turner', pr: i + 1 });
  });
  afterAll(() => q.close());

  it('walks every row that existed exactly once, following Link headers', async () => {
    const seen: number[] = [];
    let url: string | undefined = '/api/v1/environments?repository=page/turner&limit=7';
    let inserted = 100;
    while (url) {
      const res = await request(q.app).get(url);
      expect(res.status).toBe(200);
      seen.push(...res.body.map((e: { pr_number: number }) => e.pr_number));
      // Writers keep adding environments between pages.
      await insertEnvironment(q.db, { repo: 'page/turner', pr: inserted++ });
      await insertEnvironment(q.db, { repo: 'page/turner', pr: inserted++ });
      const link = /<([^>]+)>; rel="next"/.exec(res.headers.link ?? '')?.[1];
      url = link ? new URL(link).pathname + new URL(link).search : undefined;
    }
    const original = seen.filter((n) => n <= 45);
    expect(original).toEqual(Array.from({ length: 45 }, (_, i) => 45 - i));
    expect(new Set(seen).size).toBe(seen.length);
  });
});

describe('access control', () => {
  let q: Q;
  beforeAll(async () => {
    q = await startQuery({ apiTokens: ['tok-one', 'tok-two'], admin: { username: 'admin', password: 's3cret' } });
  });
  afterAll(() => q.close());

  it('asks for a token (401), refuses a wrong one (403), accepts each configured one', async () => {
    const missing = await request(q.app).get('/api/v1/environments');
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(missing.type).toBe('application/problem+json');
    oas.check('/api/v1/environments', 401, missing.body, 'application/problem+json');
    const wrong = await request(q.app).get('/api/v1/environments').set('Authorization', 'Bearer nope');
    expect(wrong.status).toBe(403);
    expect(wrong.body.detail).toBe('the API token is not valid');
    expect((await request(q.app).get('/api/v1/environments').set('Authorization', 'Basic dG9rLW9uZQ==')).status).toBe(401);
    for (const token of ['tok-one', 'tok-two']) {
      expect((await request(q.app).get('/api/v1/environments').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    }
  });

  it('serves the JSON Schema of .ephemera.yml without a token, agreeing with the worker\'s validation', async () => {
    const res = await request(q.app).get('/api/v1/config-schema.json');
    expect(res.status).toBe(200);
    expect(res.type).toBe('application/schema+json');
    const schema = JSON.parse(res.text) as Record<string, unknown>;
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    const validate = new Ajv2020({ strict: false }).compile(schema);
    const documents: Array<[string, unknown]> = [
      ['the README example', { version: 1, services: { web: { image: 'ghcr.io/acme/web:{{sha}}', port: 3000, env: { NODE_ENV: 'preview' }, health: { path: '/healthz' } } }, timeout_seconds: 600 }],
      ['an unknown key', { version: 1, services: { web: { image: 'x', port: 80, volumes: [] } } }],
      ['a service name that is not a DNS label', { version: 1, services: { Web_1: { image: 'x', port: 80 } } }],
      ['version 2', { version: 2, services: { web: { image: 'x', port: 80 } } }],
      ['no image', { version: 1, services: { web: { port: 80 } } }],
      ['a timeout over 1800 s', { version: 1, services: { web: { image: 'x', port: 80 } }, timeout_seconds: 3600 }],
    ];
    for (const [what, doc] of documents) {
      const worker = parsePreviewConfig(JSON.stringify(doc)).ok;
      expect({ what, valid: validate(doc) }).toEqual({ what, valid: worker });
    }
    expect(documents.filter(([, d]) => validate(d))).toHaveLength(1);
  });

  it('leaves /healthz, /readyz, /metrics, the OpenAPI document, the config schema and /docs open', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics', '/api/v1/openapi.json', '/api/v1/config-schema.json', '/docs/']) {
      expect({ path, status: (await request(q.app).get(path)).status }).toEqual({ path, status: 200 });
    }
  });

  it('requires the tokens when API_AUTH=none is set as well: given tokens always apply', async () => {
    const app = q.appWith({ apiTokens: ['tok-one'], apiAuth: 'none' });
    expect((await request(app).get('/api/v1/environments')).status).toBe(401);
    expect((await request(app).get('/api/v1/environments/1')).status).toBe(401);
    expect((await request(app).get('/api/v1/environments').set('Authorization', 'Bearer tok-one')).status).toBe(200);
  });

  it('serves the API open only with API_AUTH=none: no tokens otherwise is refused when the app is made', async () => {
    expect(() => q.appWith({ apiTokens: [], apiAuth: 'token' })).toThrow(/no API tokens/);
    const open = q.appWith({ apiTokens: [], apiAuth: 'none' });
    const res = await request(open).get('/api/v1/environments');
    expect(res.status).toBe(200);
    expect(res.body).toEqual([]);
  });

  it('protects Bull Board with basic auth', async () => {
    expect((await request(q.app).get('/admin/queues/api/queues')).status).toBe(401);
    expect((await request(q.app).get('/admin/queues/api/queues').auth('admin', 'wrong')).status).toBe(401);
    expect((await request(q.app).get('/admin/queues/api/queues').auth('admin', 's3cret')).status).toBe(200);
  });

  it('shows every queue in Bull Board', async () => {
    const res = await request(q.app).get('/admin/queues/api/queues').auth('admin', 's3cret');
    expect(res.status).toBe(200);
    expect(res.body.queues.map((x: { name: string }) => x.name).sort()).toEqual([...ALL_QUEUES].sort());
    expect(res.body.queues.map((x: { name: string }) => x.name)).toContain('ephemera-actions');
  });
});
