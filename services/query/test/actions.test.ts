import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Queue } from 'bullmq';
import request from 'supertest';
import { createRedis } from '@ephemera/runtime';
import { ENVIRONMENT_ACTIONS, QUEUES, environmentActionJobSchema } from '@ephemera/schema';
import { startScratchRedis } from '@ephemera/testkit';
import { ACTION_RETRY_AFTER_SECONDS } from '../src/app.js';
import { actionAcceptedSchema } from '../src/api-schemas.js';
import { insertEnvironment, openApiValidator, startQuery } from './support.js';

type Q = Awaited<ReturnType<typeof startQuery>>;
type Action = 'redeploy' | 'destroy';

const oas = openApiValidator();
const READ = 'read-token-0123456789abcdef';
const WRITE = 'write-token-0123456789abcdef';
const OTHER_WRITE = 'write-token-fedcba9876543210';
/** The login a write token is recorded under: written out here rather than taken from the code under test. */
const loginOf = (token: string) => `token:${createHash('sha256').update(token).digest('hex').slice(0, 6)}`;
const pathOf = (action: Action) => `/api/v1/environments/{id}/${action}`;

describe('the actions: POST /api/v1/environments/{id}/redeploy and /destroy', () => {
  let q: Q;
  beforeAll(async () => {
    // A limit this suite stays under: the limit itself is tested on an app of its own.
    q = await startQuery({ apiTokens: [READ], apiWriteTokens: [WRITE, OTHER_WRITE], apiAuth: 'token', actionLimit: { limit: 10_000, windowMs: 60_000 } });
  });
  afterAll(() => q.close());

  /** Every job the actions queue holds, in any state. */
  const jobCount = async () => Object.values(await q.actionsQueue.getJobCounts()).reduce((a, b) => a + b, 0);
  /** `token` null: no Authorization header. */
  const act = (action: Action, id: number | string, token: string | null = WRITE, app = q.app) => {
    const req = request(app).post(`/api/v1/environments/${id}/${action}`);
    return token === null ? req : req.set('Authorization', `Bearer ${token}`);
  };

  it.each(['redeploy', 'destroy'] as const)('%s with a write token: 202 with what was queued, and the job is in Redis with its name and payload', async (action) => {
    const env = await insertEnvironment(q.db, { status: 'READY' });
    const before = Date.now();
    const res = await act(action, env.id);
    expect(res.status).toBe(202);
    expect(res.type).toBe('application/json');
    oas.check(pathOf(action), 202, res.body, 'application/json', 'post');
    expect(actionAcceptedSchema.strict().parse(res.body)).toEqual({ action, environment_id: env.id, request_id: expect.any(String), status: 'queued' });

    const job = await q.actionsQueue.getJob(res.body.request_id as string);
    expect(job).toBeDefined();
    expect(job!.id).toBe(res.body.request_id);
    expect(job!.name).toBe(action === 'redeploy' ? 'environment.redeploy' : 'environment.destroy');
    expect(job!.name).toBe(ENVIRONMENT_ACTIONS[action]);
    // Signed with QUEUE_SIGNING_KEY, so the worker takes it as this service's.
    const verdict = q.signer.verify(QUEUES.actions, job!.name, job!.data);
    expect(verdict).toMatchObject({ ok: true });
    const data = environmentActionJobSchema.strict().parse(verdict.ok && verdict.payload);
    expect(data).toEqual({
      requestId: res.body.request_id,
      environmentId: env.id,
      requestedBy: { kind: 'token', login: loginOf(WRITE) },
      requestedAt: expect.any(String),
    });
    expect(Date.parse(data.requestedAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(data.requestedAt)).toBeLessThanOrEqual(Date.now());
    // Retried like the other queues' jobs, and kept for a while, not forever.
    expect(job!.opts.attempts).toBeGreaterThan(1);
    expect(job!.opts.backoff).toMatchObject({ type: 'exponential' });
    expect(job!.opts.removeOnComplete).toMatchObject({ age: expect.any(Number) });
    expect(job!.opts.removeOnFail).toMatchObject({ age: expect.any(Number) });
  });

  it('records each write token under its own login, never the token', async () => {
    const env = await insertEnvironment(q.db, { status: 'FAILED' });
    const res = await act('redeploy', env.id, OTHER_WRITE);
    expect(res.status).toBe(202);
    const job = await q.actionsQueue.getJob(res.body.request_id as string);
    expect(job!.data.requestedBy).toEqual({ kind: 'token', login: loginOf(OTHER_WRITE) });
    expect(loginOf(OTHER_WRITE)).not.toBe(loginOf(WRITE));
    expect(JSON.stringify(job!.data)).not.toContain(OTHER_WRITE);
  });

  it('gives each request a job of its own', async () => {
    const env = await insertEnvironment(q.db, { status: 'READY' });
    const first = await act('redeploy', env.id);
    const second = await act('redeploy', env.id);
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(first.body.request_id).not.toBe(second.body.request_id);
  });

  it.each([
    ['no token', null, 401, /Authorization: Bearer/],
    ['a read-only token (API_TOKENS)', READ, 403, /can only read/],
    ['an unknown token', 'not-a-token-of-this-service', 403, /not valid/],
  ])('refuses %s and queues nothing', async (_what, token, status, detail) => {
    const env = await insertEnvironment(q.db, { status: 'READY' });
    const jobs = await jobCount();
    for (const action of ['redeploy', 'destroy'] as const) {
      const res = await act(action, env.id, token);
      expect({ action, status: res.status, type: res.type }).toEqual({ action, status, type: 'application/problem+json' });
      expect(res.body.detail).toMatch(detail);
      if (status === 401) expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      oas.check(pathOf(action), status, res.body, 'application/problem+json', 'post');
    }
    expect(await jobCount()).toBe(jobs);
  });

  it('lets write tokens read as well', async () => {
    const env = await insertEnvironment(q.db, { status: 'READY' });
    for (const token of [WRITE, OTHER_WRITE, READ]) {
      const res = await request(q.app).get(`/api/v1/environments/${env.id}`).set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(env.id);
    }
  });

  it('answers 404 for an unknown environment, as the reads do', async () => {
    const jobs = await jobCount();
    for (const action of ['redeploy', 'destroy'] as const) {
      const res = await act(action, 2_147_483_647);
      expect(res.status).toBe(404);
      expect(res.type).toBe('application/problem+json');
      expect(res.body).toMatchObject({ status: 404, title: 'Not Found', detail: 'no environment 2147483647' });
      oas.check(pathOf(action), 404, res.body, 'application/problem+json', 'post');
    }
    expect(await jobCount()).toBe(jobs);
  });

  it.each(['abc', '1.5', '0', '-3', '2147483648'])('answers 400 naming the id for /environments/%s/…', async (id) => {
    for (const action of ['redeploy', 'destroy'] as const) {
      const res = await act(action, id);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ status: 400, parameter: 'id' });
      oas.check(pathOf(action), 400, res.body, 'application/problem+json', 'post');
    }
  });

  // status → [redeploy, destroy]
  it.each([
    ['READY', 202, 202],
    ['FAILED', 202, 202],
    ['PENDING', 409, 202],
    ['PROVISIONING', 409, 202],
    ['UPDATING', 409, 202],
    ['DESTROYING', 409, 409],
    ['DESTROYED', 409, 409],
  ])('an environment %s: redeploy %s, destroy %s', async (status, redeploy, destroy) => {
    for (const [action, expected] of [['redeploy', redeploy], ['destroy', destroy]] as const) {
      const env = await insertEnvironment(q.db, { status });
      const jobs = await jobCount();
      const res = await act(action, env.id);
      expect({ action, status: res.status }).toEqual({ action, status: expected });
      if (expected === 409) {
        expect(res.type).toBe('application/problem+json');
        expect(res.body).toMatchObject({ status: 409, title: 'Conflict' });
        oas.check(pathOf(action), 409, res.body, 'application/problem+json', 'post');
        expect(await jobCount()).toBe(jobs);
      } else {
        expect(await jobCount()).toBe(jobs + 1);
      }
    }
  });

  it('says why an action does not apply', async () => {
    const destroyed = await insertEnvironment(q.db, { status: 'DESTROYED' });
    expect((await act('destroy', destroyed.id)).body.detail).toMatch(/already destroyed/);
    const pending = await insertEnvironment(q.db, { status: 'PENDING' });
    expect((await act('redeploy', pending.id)).body.detail).toMatch(/is PENDING: redeploy applies to READY, FAILED/);
  });

  it('answers 409 while a teardown is pending (a FAILED teardown is retried by the worker)', async () => {
    const env = await insertEnvironment(q.db, { status: 'FAILED' });
    await q.db.environment.update({ where: { id: env.id }, data: { destroyRequestedAt: new Date() } });
    for (const action of ['redeploy', 'destroy'] as const) {
      const res = await act(action, env.id);
      expect(res.status).toBe(409);
      expect(res.body.detail).toMatch(/being destroyed/);
    }
  });

  it('answers 409 when the pull request is closed, matched by repository id across a rename or by full name', async () => {
    const byId = await insertEnvironment(q.db, { repo: 'acme/renamed', pr: 501, status: 'READY', repositoryId: 4242 });
    await q.db.pullRequestState.create({ data: { repositoryId: 4242n, repositoryFullName: 'acme/old-name', prNumber: 501, lastPrState: 'closed' } });
    const byName = await insertEnvironment(q.db, { repo: 'acme/closed', pr: 502, status: 'FAILED' });
    await q.db.pullRequestState.create({ data: { repositoryFullName: 'acme/closed', prNumber: 502, lastPrState: 'closed' } });
    const jobs = await jobCount();
    for (const env of [byId, byName]) {
      for (const action of ['redeploy', 'destroy'] as const) {
        const res = await act(action, env.id);
        expect({ env: env.id, action, status: res.status }).toEqual({ env: env.id, action, status: 409 });
        expect(res.body.detail).toMatch(/pull request .* is closed/);
      }
    }
    expect(await jobCount()).toBe(jobs);
  });

  it('acts when the pull request is open, and is not misled by another pull request\'s state', async () => {
    const open = await insertEnvironment(q.db, { repo: 'acme/open', pr: 601, status: 'READY', repositoryId: 5151 });
    await q.db.pullRequestState.create({ data: { repositoryId: 5151n, repositoryFullName: 'acme/open', prNumber: 601, lastPrState: 'open' } });
    // Closed: the same number in another repository, and another number in this one.
    await q.db.pullRequestState.create({ data: { repositoryId: 6161n, repositoryFullName: 'acme/elsewhere', prNumber: 601, lastPrState: 'closed' } });
    await q.db.pullRequestState.create({ data: { repositoryId: 5151n, repositoryFullName: 'acme/open', prNumber: 602, lastPrState: 'closed' } });
    expect((await act('redeploy', open.id)).status).toBe(202);
    const noState = await insertEnvironment(q.db, { repo: 'acme/unrecorded', pr: 603, status: 'READY' });
    expect((await act('destroy', noState.id)).status).toBe(202);
  });

  it('counts actions per write token: over the limit 429 with Retry-After, and nothing queued', async () => {
    const app = q.appWith({ apiTokens: [READ], apiWriteTokens: [WRITE, OTHER_WRITE], actionLimit: { limit: 2, windowMs: 60_000 } });
    const env = await insertEnvironment(q.db, { status: 'READY' });
    expect((await act('redeploy', env.id, WRITE, app)).status).toBe(202);
    expect((await act('destroy', env.id, WRITE, app)).status).toBe(202);
    const jobs = await jobCount();
    const limited = await act('redeploy', env.id, WRITE, app);
    expect(limited.status).toBe(429);
    expect(limited.type).toBe('application/problem+json');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(await jobCount()).toBe(jobs);
    // Refused requests are not counted against a token, and another token has a limit of its own.
    expect((await act('redeploy', env.id, READ, app)).status).toBe(403);
    expect((await act('redeploy', env.id, OTHER_WRITE, app)).status).toBe(202);
  });

  describe('without API_WRITE_TOKENS', () => {
    it('refuses every action, also where the reads are open (API_AUTH=none)', async () => {
      const env = await insertEnvironment(q.db, { status: 'READY' });
      const jobs = await jobCount();
      const readOnly = q.appWith({ apiTokens: [READ], apiAuth: 'token' });
      const open = q.appWith({ apiTokens: [], apiAuth: 'none' });
      for (const app of [readOnly, open]) {
        for (const action of ['redeploy', 'destroy'] as const) {
          expect((await act(action, env.id, null, app)).status).toBe(401);
          const res = await act(action, env.id, READ, app);
          expect(res.status).toBe(403);
          expect(res.body.detail).toMatch(/no API_WRITE_TOKENS/);
          expect((await act(action, env.id, WRITE, app)).status).toBe(403);
        }
      }
      expect((await request(open).get(`/api/v1/environments/${env.id}`)).status).toBe(200);
      expect(await jobCount()).toBe(jobs);
    });
  });

  it('with API_AUTH=none and only write tokens: reads stay open, actions need a write token', async () => {
    const app = q.appWith({ apiTokens: [], apiAuth: 'none', apiWriteTokens: [WRITE] });
    const env = await insertEnvironment(q.db, { status: 'READY' });
    expect((await request(app).get(`/api/v1/environments/${env.id}`)).status).toBe(200);
    expect((await act('redeploy', env.id, null, app)).status).toBe(401);
    expect((await act('redeploy', env.id, WRITE, app)).status).toBe(202);
  });

  it('with only write tokens: reads need one of them', async () => {
    const app = q.appWith({ apiTokens: [], apiAuth: 'token', apiWriteTokens: [WRITE] });
    expect((await request(app).get('/api/v1/environments')).status).toBe(401);
    expect((await request(app).get('/api/v1/environments').set('Authorization', `Bearer ${READ}`)).status).toBe(403);
    expect((await request(app).get('/api/v1/environments').set('Authorization', `Bearer ${WRITE}`)).status).toBe(200);
  });

  it('refuses to make an app with a token in both lists', () => {
    expect(() => q.appWith({ apiTokens: [READ, WRITE], apiWriteTokens: [WRITE] })).toThrow(/both a read and a write token/);
  });

  it('documents both actions: POST, bearer or dashboard session security, 202/303/400/401/403/404/409/429/503', () => {
    for (const action of ['redeploy', 'destroy'] as const) {
      const operation = (oas.document.paths as Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>>)[pathOf(action)];
      expect(operation).toBeDefined();
      expect(Object.keys(operation!)).toEqual(['post']);
      expect(operation!.post!.security).toEqual([{ bearer: [] }, { session: [] }]);
      expect(Object.keys(operation!.post!.responses).sort()).toEqual(['202', '303', '400', '401', '403', '404', '409', '429', '503']);
    }
    const schemas = (oas.document.components as { schemas: Record<string, { properties: Record<string, unknown>; required: string[] }> }).schemas;
    expect(Object.keys(schemas.ActionAccepted!.properties)).toEqual(['action', 'environment_id', 'request_id', 'status']);
    expect(schemas.ActionAccepted!.required).toEqual(['action', 'environment_id', 'request_id', 'status']);
  });
});

describe('an action while Redis is down', () => {
  let q: Q;
  let redis: Awaited<ReturnType<typeof startScratchRedis>>;
  let producer: ReturnType<typeof createRedis>;
  let queue: Queue;
  beforeAll(async () => {
    q = await startQuery();
    redis = await startScratchRedis();
    // As main.ts makes it: a connection that fails fast instead of holding commands until Redis is back.
    producer = createRedis(redis.url, 'producer');
    producer.on('error', () => undefined);
    queue = new Queue(QUEUES.actions, { connection: producer, prefix: q.prefix });
    queue.on('error', () => undefined);
  });
  afterAll(async () => {
    await queue.close();
    producer.disconnect();
    await redis.destroy();
    await q.close();
  });

  it('answers 503 with Retry-After and queues nothing; once Redis is back, actions are queued again', async () => {
    const app = q.appWith({ apiWriteTokens: [WRITE], actionsQueue: queue, enqueueTimeoutMs: 1_500 });
    const env = await insertEnvironment(q.db, { status: 'READY' });
    const post = () => request(app).post(`/api/v1/environments/${env.id}/redeploy`).set('Authorization', `Bearer ${WRITE}`);
    expect((await post()).status).toBe(202);

    await redis.stop();
    const started = Date.now();
    const refused = await post();
    expect(refused.status).toBe(503);
    expect(refused.type).toBe('application/problem+json');
    expect(refused.headers['retry-after']).toBe(String(ACTION_RETRY_AFTER_SECONDS));
    expect(refused.body.detail).toMatch(/nothing was queued/);
    expect(Date.now() - started).toBeLessThan(5_000);
    oas.check(pathOf('redeploy'), 503, refused.body, 'application/problem+json', 'post');

    await redis.start();
    let accepted = await post();
    const deadline = Date.now() + 20_000;
    while (accepted.status === 503 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      accepted = await post();
    }
    expect(accepted.status).toBe(202);
    // The first action and the last: the refused one left no job behind.
    const jobs = await queue.getJobs();
    expect(jobs.map((j) => j.id).sort()).toHaveLength(2);
    expect(jobs.map((j) => j.id)).toContain(accepted.body.request_id);
  }, 60_000);
});
