import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Worker, type Job, type Queue } from 'bullmq';
import request from 'supertest';
import { ALL_QUEUES } from '@ephemera/schema';
import { startQuery } from './support.js';

type Q = Awaited<ReturnType<typeof startQuery>>;

const USER = 'admin';
const PASSWORD = 'correct-horse-battery';
const HOST = 'ephemera.test:3002';
const SAME_ORIGIN = `http://${HOST}`;
const QUEUE = 'ephemera-cleanup';

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('Bull Board at /admin/queues', () => {
  let q: Q;
  let queue: Queue;
  beforeAll(async () => {
    q = await startQuery({ apiTokens: ['tok'] });
    queue = q.queues.find((x) => x.name === QUEUE)!;
  });
  afterAll(() => q.close());

  /** A job that a real BullMQ worker ran and that failed, in the real Redis queue. */
  async function failedJob(): Promise<Job> {
    const worker = new Worker(
      QUEUE,
      async () => {
        throw new Error('boom');
      },
      { connection: { url: process.env.REDIS_URL }, prefix: q.prefix },
    );
    try {
      const job = await queue.add('boom', { at: Date.now() }, { attempts: 1 });
      await until(async () => (await job.getState()) === 'failed', 'the job to fail');
      return job;
    } finally {
      await worker.close();
    }
  }
  const stateOf = async (job: Job) => (await queue.getJob(job.id!))?.getState();

  const board = (write: boolean) => q.appWith({ apiTokens: ['tok'], admin: { username: USER, password: PASSWORD, write } });

  describe('without ADMIN_USERNAME and ADMIN_PASSWORD', () => {
    it('answers 404 for Bull Board and everything under it, with or without credentials', async () => {
      for (const admin of [{}, { username: USER }, { password: PASSWORD }]) {
        const app = q.appWith({ apiTokens: ['tok'], admin });
        for (const path of ['/admin/queues', '/admin/queues/', '/admin/queues/api/queues', '/admin/queues/static/favicon-32x32.png']) {
          const res = await request(app).get(path).auth(USER, PASSWORD);
          expect({ path, status: res.status, type: res.type }).toEqual({ path, status: 404, type: 'application/problem+json' });
        }
        const retry = await request(app).put(`/admin/queues/api/queues/${QUEUE}/retry/failed`).auth(USER, PASSWORD).set('Host', HOST).set('Origin', SAME_ORIGIN);
        expect(retry.status).toBe(404);
      }
    });
  });

  describe('read-only (the default)', () => {
    it('serves Bull Board and its reads, and tells it it is read-only so that its UI hides the buttons', async () => {
      const app = board(false);
      const page = await request(app).get('/admin/queues').auth(USER, PASSWORD);
      expect(page.status).toBe(200);
      expect(page.text).toMatch(/<html/i);
      const queues = await request(app).get('/admin/queues/api/queues').auth(USER, PASSWORD);
      expect(queues.status).toBe(200);
      expect(queues.body.queues).toHaveLength(ALL_QUEUES.length);
      for (const x of queues.body.queues as Array<{ readOnlyMode: boolean }>) expect(x.readOnlyMode).toBe(true);
    });

    it('refuses to retry a failed job (403, same origin or not), and the job stays failed', async () => {
      const job = await failedJob();
      const countsBefore = await queue.getJobCounts();
      const app = board(false);
      for (const path of [`/admin/queues/api/queues/${QUEUE}/retry/failed`, `/admin/queues/api/queues/${QUEUE}/${job.id}/retry`]) {
        const res = await request(app).put(path).auth(USER, PASSWORD).set('Host', HOST).set('Origin', SAME_ORIGIN);
        expect(res.status).toBe(403);
        expect(res.type).toBe('application/problem+json');
        expect(res.body).toMatchObject({ status: 403, title: 'Forbidden' });
        expect(res.body.detail).toMatch(/read-only: set ADMIN_WRITE=true/);
      }
      expect(await stateOf(job)).toBe('failed');
      // Nor any other failed job: "retry all" would have moved them too.
      expect(await queue.getJobCounts()).toEqual(countsBefore);
    });

    it.each([
      ['POST', `/admin/queues/api/queues/${QUEUE}/add`],
      ['PUT', `/admin/queues/api/queues/${QUEUE}/promote`],
      ['PUT', `/admin/queues/api/queues/${QUEUE}/clean/failed`],
      ['PUT', `/admin/queues/api/queues/${QUEUE}/empty`],
      ['PUT', `/admin/queues/api/queues/${QUEUE}/obliterate`],
      ['PUT', `/admin/queues/api/queues/${QUEUE}/pause`],
      ['PUT', '/admin/queues/api/queues/pause'],
      ['PUT', `/admin/queues/api/queues/${QUEUE}/1/clean`],
      ['PATCH', `/admin/queues/api/queues/${QUEUE}/1/update-data`],
      ['DELETE', `/admin/queues/api/queues/${QUEUE}`],
    ])('refuses %s %s (403) and changes nothing', async (method, path) => {
      const job = await failedJob();
      const countsBefore = await queue.getJobCounts();
      const agent = request(board(false));
      const verb = method.toLowerCase() as 'post' | 'put' | 'patch' | 'delete';
      const res = await agent[verb](path)
        .auth(USER, PASSWORD)
        .set('Host', HOST)
        .set('Origin', SAME_ORIGIN)
        .send({ name: 'added', data: {} });
      expect(res.status).toBe(403);
      expect(res.type).toBe('application/problem+json');
      expect(await stateOf(job)).toBe('failed');
      expect(await queue.getJobCounts()).toEqual(countsBefore);
      expect(await queue.isPaused()).toBe(false);
    });

    it('asks for the credentials before saying it is read-only', async () => {
      const res = await request(board(false)).put(`/admin/queues/api/queues/${QUEUE}/retry/failed`).set('Host', HOST).set('Origin', SAME_ORIGIN);
      expect(res.status).toBe(401);
    });
  });

  describe('with ADMIN_WRITE=true', () => {
    it('tells Bull Board it may change queues', async () => {
      const queues = await request(board(true)).get('/admin/queues/api/queues').auth(USER, PASSWORD);
      for (const x of queues.body.queues as Array<{ readOnlyMode: boolean }>) expect(x.readOnlyMode).toBe(false);
    });

    it('retries the failed jobs when asked from the same origin', async () => {
      const job = await failedJob();
      const res = await request(board(true))
        .put(`/admin/queues/api/queues/${QUEUE}/retry/failed`)
        .auth(USER, PASSWORD)
        .set('Host', HOST)
        .set('Origin', SAME_ORIGIN);
      expect(res.status).toBe(200);
      expect(await stateOf(job)).toBe('waiting');
      expect((await queue.getJobCounts('failed')).failed).toBe(0);
      await queue.drain();
    });

    it('accepts a same-origin Referer when there is no Origin, with the default port written out or not', async () => {
      const app = board(true);
      const pause = await request(app)
        .put(`/admin/queues/api/queues/${QUEUE}/pause`)
        .auth(USER, PASSWORD)
        .set('Host', 'ephemera.test')
        .set('Referer', `http://ephemera.test:80/admin/queues/queue/${QUEUE}`);
      expect(pause.status).toBe(200);
      expect(await queue.isPaused()).toBe(true);
      const resume = await request(app)
        .put(`/admin/queues/api/queues/${QUEUE}/resume`)
        .auth(USER, PASSWORD)
        .set('Host', 'EPHEMERA.test:443')
        .set('Origin', 'https://ephemera.test');
      expect(resume.status).toBe(200);
      expect(await queue.isPaused()).toBe(false);
    });

    it.each<[string, Record<string, string>]>([
      ['another site', { Origin: 'https://evil.example' }],
      ['another port', { Origin: 'http://ephemera.test:8080' }],
      ['a host that only ends like ours', { Origin: 'http://notephemera.test:3002' }],
      ['an opaque origin', { Origin: 'null' }],
      ['a cross-origin Origin with a same-origin Referer', { Origin: 'https://evil.example', Referer: `${SAME_ORIGIN}/admin/queues` }],
      ['a Referer from another site', { Referer: 'https://evil.example/page' }],
      ['a Referer that is not an http URL', { Referer: `javascript://${HOST}/` }],
      ['neither Origin nor Referer', {}],
    ])('refuses a change from %s (403) and leaves the job failed', async (_what, headers) => {
      const job = await failedJob();
      const res = await request(board(true))
        .put(`/admin/queues/api/queues/${QUEUE}/retry/failed`)
        .auth(USER, PASSWORD)
        .set('Host', HOST)
        .set(headers);
      expect(res.status).toBe(403);
      expect(res.type).toBe('application/problem+json');
      expect(res.body.detail).toMatch(/Origin \(or Referer\) header must name this host/);
      expect(await stateOf(job)).toBe('failed');
    });

    it('refuses a change when the Host header is not a plain authority', async () => {
      const res = await request(board(true))
        .put(`/admin/queues/api/queues/${QUEUE}/pause`)
        .auth(USER, PASSWORD)
        .set('Host', 'a b')
        .set('Origin', 'http://a b');
      expect(res.status).toBe(403);
      expect(await queue.isPaused()).toBe(false);
    });
  });

  describe('failed logins', () => {
    const login = (app: ReturnType<typeof board>, client: string, password: string | null) => {
      const r = request(app).get('/admin/queues/api/queues').set('X-Forwarded-For', client);
      return password === null ? r : r.auth(USER, password);
    };

    it('answer 429 with Retry-After after 10 failures from one client, correct logins included, while other clients still log in', async () => {
      const app = board(false);
      for (let i = 0; i < 10; i++) expect((await login(app, '198.51.100.7', `guess-${i}`)).status).toBe(401);
      const limited = await login(app, '198.51.100.7', 'guess-10');
      expect(limited.status).toBe(429);
      expect(limited.type).toBe('application/problem+json');
      expect(limited.body).toMatchObject({ status: 429, title: 'Too Many Requests' });
      const retryAfter = Number(limited.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(800);
      expect(retryAfter).toBeLessThanOrEqual(900);
      // Once limited, the right password gets the same answer: a guesser learns nothing more.
      expect((await login(app, '198.51.100.7', PASSWORD)).status).toBe(429);
      expect((await login(app, '198.51.100.7', 'guess-11')).status).toBe(429);
      // Another client address is not affected.
      expect((await login(app, '203.0.113.9', PASSWORD)).status).toBe(200);
      expect((await login(app, '203.0.113.9', 'typo')).status).toBe(401);
    });

    it('do not count successful logins or the challenge a browser gets before it sends credentials', async () => {
      const app = board(false);
      for (let i = 0; i < 15; i++) {
        expect((await login(app, '198.51.100.8', PASSWORD)).status).toBe(200);
        expect((await login(app, '198.51.100.8', null)).status).toBe(401);
      }
      for (let i = 0; i < 10; i++) expect((await login(app, '198.51.100.8', `guess-${i}`)).status).toBe(401);
      expect((await login(app, '198.51.100.8', 'guess-10')).status).toBe(429);
    });

    it('count per client address: refused writes and other answers of a logged-in user are not failures', async () => {
      const app = q.appWith({ apiTokens: ['tok'], admin: { username: USER, password: PASSWORD, write: false, loginLimit: { limit: 2, windowMs: 60_000 } } });
      for (let i = 0; i < 5; i++) {
        const put = await request(app).put(`/admin/queues/api/queues/${QUEUE}/pause`).auth(USER, PASSWORD).set('X-Forwarded-For', '198.51.100.9');
        expect(put.status).toBe(403);
        const missing = await request(app).get('/admin/queues/api/queues/nope/1').auth(USER, PASSWORD).set('X-Forwarded-For', '198.51.100.9');
        expect(missing.status).toBeGreaterThanOrEqual(400);
      }
      expect((await login(app, '198.51.100.9', 'one')).status).toBe(401);
      expect((await login(app, '198.51.100.9', 'two')).status).toBe(401);
      expect((await login(app, '198.51.100.9', PASSWORD)).status).toBe(429);
    });
  });
});
