import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { ENVIRONMENT_ACTIONS, environmentActionJobSchema } from '@ephemera/schema';
import { repositoryIdOf, startFakeGithub, type FakeGithub } from '@ephemera/testkit';
import { GithubSignIn } from '../src/dashboard/github-sign-in.js';
import { deploymentRows, deploymentSummary, type DeploymentView } from '../src/dashboard/pages.js';
import { cookiesOf, csrfOf, operatorSession as signInWithForm } from './dashboard-client.js';
import { insertEnvironment, startQuery } from './support.js';

type Q = Awaited<ReturnType<typeof startQuery>>;
const OPERATOR = { username: 'ops', password: 'a-long-operator-password' };

/** Signs in through the operator's form, as the operator unless told otherwise. */
const operatorSession = (app: Q['app'], credentials = OPERATOR) => signInWithForm(app, credentials);

describe('the dashboard', () => {
  let q: Q;
  beforeAll(async () => {
    q = await startQuery({ admin: OPERATOR, actionLimit: { limit: 10_000, windowMs: 60_000 } });
  });
  afterAll(() => q.close());
  afterEach(async () => {
    await q.db.deployment.deleteMany();
    await q.db.environment.deleteMany();
    await q.actionsQueue.obliterate({ force: true });
  });

  describe('sign-in', () => {
    it('sends a browser without a session to the sign-in page, which shows the operator form', async () => {
      for (const path of ['/', '/environments/1', '/environments/1/deployments/1', '/events']) {
        const res = await request(q.app).get(path);
        expect(res.status).toBe(303);
        expect(res.headers.location).toBe('/sign-in');
      }
      const page = await request(q.app).get('/sign-in');
      expect(page.status).toBe(200);
      expect(page.text).toMatch(/<input name="username"/);
      expect(page.text).toMatch(/<input name="password" type="password"/);
      expect(page.text).not.toContain('Sign in with GitHub');
    });

    it('signs the operator in with a signed, HttpOnly, SameSite=Lax session cookie, and refuses a wrong password', async () => {
      const wrong = await operatorSession(q.app, { ...OPERATOR, password: 'not-the-password' });
      expect(wrong.res.status).toBe(401);
      expect(wrong.res.text).toContain('Wrong username or password');
      expect(wrong.cookie).not.toContain('ephemera_session');

      const { res, cookie } = await operatorSession(q.app);
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/');
      const set = (res.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('ephemera_session='))!;
      expect(set).toMatch(/HttpOnly/);
      expect(set).toMatch(/SameSite=Lax/);
      expect(set).not.toMatch(/Secure/);
      // Signed: cookie-signature's "s:" prefix, and a changed value is not a session.
      expect(set).toMatch(/^ephemera_session=s%3A/);
      const home = await request(q.app).get('/').set('Cookie', cookie);
      expect(home.status).toBe(200);
      expect(home.text).toContain('ops (operator)');
      // The session id's first character changed (to X, or to Y when it already is X: one session in 64).
      const forged = await request(q.app).get('/').set('Cookie', cookie.replace(/ephemera_session=s%3A(.)/, (_m, c: string) => `ephemera_session=s%3A${c === 'X' ? 'Y' : 'X'}`));
      expect(forged.status).toBe(303);
    });

    it('refuses a sign-in without the form\'s CSRF token', async () => {
      const res = await request(q.app).post('/auth/sign-in').type('form').send(OPERATOR);
      expect(res.status).toBe(403);
      expect(cookiesOf(res)).not.toContain('ephemera_session');
    });

    it('limits failed sign-ins per address: once over, even the right password gets 429', async () => {
      const app = q.appWith({ admin: { ...OPERATOR, loginLimit: { limit: 2, windowMs: 60_000 } } });
      for (let i = 0; i < 2; i++) expect((await operatorSession(app, { ...OPERATOR, password: 'guess' })).res.status).toBe(401);
      const blocked = await operatorSession(app);
      expect(blocked.res.status).toBe(429);
      expect(blocked.res.headers['retry-after']).toBeDefined();
      expect(blocked.res.text).toContain('Too many failed sign-ins from this address');
      expect(cookiesOf(blocked.res)).not.toContain('ephemera_session');
    });

    it('signs out with a POST carrying the CSRF token; the session is then gone', async () => {
      const { cookie, csrf } = await operatorSession(q.app);
      expect((await request(q.app).get('/auth/sign-out').set('Cookie', cookie)).text).toContain('action="/auth/sign-out"');
      expect((await request(q.app).post('/auth/sign-out').set('Cookie', cookie).type('form').send({})).status).toBe(403);
      const out = await request(q.app).post('/auth/sign-out').set('Cookie', cookie).type('form').send({ _csrf: csrf });
      expect(out.status).toBe(303);
      expect(out.headers.location).toBe('/sign-in');
      expect((await request(q.app).get('/').set('Cookie', cookie)).status).toBe(303);
    });
  });

  describe('pages', () => {
    it('lists environments newest first with links, filters by repository and status, active only by default', async () => {
      const { cookie } = await operatorSession(q.app);
      const old = await insertEnvironment(q.db, { repo: 'acme/web', pr: 1, status: 'READY', createdAt: new Date(Date.now() - 3 * 3600_000), owner: 'alice' });
      const failed = await insertEnvironment(q.db, { repo: 'acme/api', pr: 2, status: 'FAILED', createdAt: new Date(Date.now() - 3600_000) });
      const gone = await insertEnvironment(q.db, { repo: 'acme/web', pr: 3, status: 'DESTROYED' });
      const res = await request(q.app).get('/').set('Cookie', cookie);
      expect(res.status).toBe(200);
      expect(res.headers['content-security-policy']).toMatch(/script-src 'self'/);
      expect(res.headers['content-security-policy']).not.toMatch(/unsafe-inline/);
      const ids = [...res.text.matchAll(/<tr data-id="(\d+)"/g)].map((m) => Number(m[1]));
      expect(ids).toEqual([failed.id, old.id]);
      expect(res.text).toContain(`<a href="https://github.com/acme/web/pull/1">#1</a> <a href="/environments/${old.id}">PR 1</a>`);
      expect(res.text).toContain(`<a href="https://github.com/acme/web/commit/${old.commitSha}"><code>${old.commitSha.slice(0, 7)}</code></a>`);
      expect(res.text).toContain(`<a href="${old.environmentUrl}">`);
      expect(res.text).toContain('<td data-label="Author">alice</td>');
      expect(res.text).toContain('<span class="status status-failed">FAILED</span>');
      expect(res.text).toContain('3 h ago');

      const all = await request(q.app).get('/?show=all').set('Cookie', cookie);
      expect([...all.text.matchAll(/<tr data-id="(\d+)"/g)].map((m) => Number(m[1]))).toEqual([gone.id, failed.id, old.id]);
      const byRepo = await request(q.app).get('/?repository=acme%2Fapi').set('Cookie', cookie);
      expect([...byRepo.text.matchAll(/<tr data-id="(\d+)"/g)].map((m) => Number(m[1]))).toEqual([failed.id]);
      const byStatus = await request(q.app).get('/?status=READY').set('Cookie', cookie);
      expect([...byStatus.text.matchAll(/<tr data-id="(\d+)"/g)].map((m) => Number(m[1]))).toEqual([old.id]);
      expect(byStatus.text).toContain('<option selected>READY</option>');
      expect((await request(q.app).get('/?status=NOPE').set('Cookie', cookie)).status).toBe(400);
    });

    it('pages through environments with the API\'s cursors', async () => {
      const { cookie } = await operatorSession(q.app);
      const base = Date.now() - 3600_000;
      for (let i = 0; i < 53; i++) await insertEnvironment(q.db, { pr: 100 + i, createdAt: new Date(base + i * 1000) });
      const first = await request(q.app).get('/').set('Cookie', cookie);
      const firstPrs = [...first.text.matchAll(/pull\/(\d+)"/g)].map((m) => Number(m[1]));
      expect(firstPrs).toHaveLength(50);
      expect(firstPrs[0]).toBe(152);
      const next = /<a rel="next" href="([^"]+)"/.exec(first.text)![1]!.replace(/&amp;/g, '&');
      const second = await request(q.app).get(next).set('Cookie', cookie);
      expect([...second.text.matchAll(/pull\/(\d+)"/g)].map((m) => Number(m[1]))).toEqual([102, 101, 100]);
      expect(second.text).not.toContain('rel="next"');
      expect((await request(q.app).get('/?cursor=bogus').set('Cookie', cookie)).status).toBe(400);
    });

    it('escapes a hostile pull request title everywhere it is shown', async () => {
      const { cookie } = await operatorSession(q.app);
      const env = await insertEnvironment(q.db, { pr: 7 });
      const hostile = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'&';
      await q.db.environment.update({ where: { id: env.id }, data: { prTitle: hostile, errorMessage: '<b>boom</b>' } });
      for (const path of ['/', `/environments/${env.id}`]) {
        const res = await request(q.app).get(path).set('Cookie', cookie);
        expect(res.text).not.toContain('<script>alert');
        expect(res.text).not.toContain('<img src=x');
        expect(res.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&quot;&#39;&amp;');
      }
      const page = await request(q.app).get(`/environments/${env.id}`).set('Cookie', cookie);
      expect(page.text).toContain('&lt;b&gt;boom&lt;/b&gt;');
      // The only script is the static file.
      expect([...page.text.matchAll(/<script/g)]).toHaveLength(1);
      expect(page.text).toContain('<script src="/static/dashboard.js" defer></script>');
      const js = await request(q.app).get('/static/dashboard.js');
      expect(js.status).toBe(200);
      expect(js.headers['content-type']).toMatch(/javascript/);
    });

    it('shows an environment with its error, deployment history and buttons, and a deployment with its logs', async () => {
      const { cookie } = await operatorSession(q.app);
      const env = await insertEnvironment(q.db, { pr: 8, status: 'FAILED' });
      await q.db.environment.update({ where: { id: env.id }, data: { errorMessage: 'image pull failed' } });
      const started = new Date(Date.now() - 90_000);
      const first = await q.db.deployment.create({
        data: { environmentId: env.id, commitSha: 'a'.repeat(40), commitMessage: 'first', status: 'SUCCESS', startedAt: started, completedAt: new Date(started.getTime() + 65_000), logs: 'built\nready\n' },
      });
      const second = await q.db.deployment.create({
        data: { environmentId: env.id, commitSha: 'b'.repeat(40), commitMessage: 'second', status: 'FAILED', startedAt: new Date(), logs: 'pulling <image>\nfailed\n', errorMessage: 'image pull failed' },
      });
      const res = await request(q.app).get(`/environments/${env.id}`).set('Cookie', cookie);
      expect(res.status).toBe(200);
      expect(res.text).toContain('<strong>Error:</strong> image pull failed');
      expect(res.text.indexOf(`/deployments/${second.id}"`)).toBeLessThan(res.text.indexOf(`/deployments/${first.id}"`));
      expect(res.text).toContain('1 min 5 s');
      expect(res.text).toContain(`action="/api/v1/environments/${env.id}/redeploy"`);
      expect(res.text).toMatch(new RegExp(`action="/api/v1/environments/${env.id}/destroy" data-confirm="Destroy`));
      const logs = await request(q.app).get(`/environments/${env.id}/deployments/${second.id}`).set('Cookie', cookie);
      expect(logs.status).toBe(200);
      expect(logs.text).toContain('<pre id="logs" class="logs" tabindex="0">pulling &lt;image&gt;\nfailed\n</pre>');
      expect((await request(q.app).get(`/environments/${env.id}/deployments/${second.id + 100}`).set('Cookie', cookie)).status).toBe(404);
      expect((await request(q.app).get(`/environments/${env.id + 100}`).set('Cookie', cookie)).status).toBe(404);
    });
  });

  describe('a deployment waiting for its commit\'s checks', () => {
    const links = { githubUrl: 'https://github.com' };
    const now = Date.UTC(2026, 0, 2, 10, 0);
    const view = (d: Partial<DeploymentView> = {}): DeploymentView => ({
      id: 5,
      environment_id: 3,
      commit_sha: 'e'.repeat(40),
      commit_message: 'Wait for CI',
      status: 'WAITING',
      started_at: null,
      completed_at: null,
      error_message: null,
      waiting_for: null,
      waiting_since: null,
      created_at: '2026-01-02T09:30:00+00:00',
      updated_at: '2026-01-02T09:30:00+00:00',
      ...d,
    });

    it('is labelled "Waiting for checks" on the environment\'s page and its own, with its own style', async () => {
      const { cookie } = await operatorSession(q.app);
      const env = await insertEnvironment(q.db, { pr: 11, status: 'UPDATING' });
      const waiting = await q.db.deployment.create({
        data: { environmentId: env.id, commitSha: 'e'.repeat(40), commitMessage: 'Wait for CI', status: 'WAITING', gateChecks: ['build', 'docker / push'], gateWaitingFor: '`build`, `docker / push`', waitingSince: new Date() },
      });
      const badge = '<span class="status status-waiting" title="WAITING">Waiting for checks</span>';
      const page = await request(q.app).get(`/environments/${env.id}`).set('Cookie', cookie);
      expect(page.status).toBe(200);
      expect(page.text).toContain(`<td data-label="Status">${badge} <span class="waiting-for">Waiting for <code>build</code>, <code>docker / push</code></span></td>`);
      const own = await request(q.app).get(`/environments/${env.id}/deployments/${waiting.id}`).set('Cookie', cookie);
      expect(own.text).toContain(`<dt>Status</dt><dd>${badge}`);
      const css = await request(q.app).get('/static/dashboard.css');
      expect(css.text).toMatch(/\.status-waiting \{ color: var\(--wait\);/);
      expect(css.text).toMatch(/--wait: #[0-9a-f]{6};/);
    });

    it('says what it waits for, and since when, each name as code and escaped', () => {
      const rows = deploymentRows(3, 'acme/web', [view({ waiting_for: '`build`, `docker / push`', waiting_since: '2026-01-02T09:30:00+00:00' })], links, now).text;
      expect(rows).toContain(
        '<td data-label="Status"><span class="status status-waiting" title="WAITING">Waiting for checks</span> <span class="waiting-for">Waiting for <code>build</code>, <code>docker / push</code></span></td>',
      );
      const summary = deploymentSummary(view({ waiting_for: '`build`', waiting_since: '2026-01-02T09:30:00+00:00' }), 'acme/web', links, now).text;
      expect(summary).toContain('<span class="waiting-for">Waiting for <code>build</code></span>');
      expect(summary).toContain('<dt>Waiting since</dt><dd><time datetime="2026-01-02T09:30:00+00:00" title="2026-01-02T09:30:00+00:00">30 min ago</time></dd>');

      const hostile = deploymentRows(3, 'acme/web', [view({ waiting_for: '`<img src=x onerror=alert(1)>`, <b>"lint"</b>' })], links, now).text;
      expect(hostile).not.toContain('<img');
      expect(hostile).not.toContain('<b>');
      expect(hostile).toContain('Waiting for <code>&lt;img src=x onerror=alert(1)&gt;</code>, &lt;b&gt;&quot;lint&quot;&lt;/b&gt;</span>');
    });

    it('says nothing of checks once it no longer waits, nor when the worker did not say what it waits for', () => {
      const started = deploymentRows(3, 'acme/web', [view({ status: 'IN_PROGRESS', started_at: '2026-01-02T09:59:00+00:00', waiting_for: '`build`' })], links, now).text;
      expect(started).toContain('<span class="status status-in_progress">IN_PROGRESS</span></td>');
      expect(started).not.toContain('Waiting for');
      const unsaid = deploymentRows(3, 'acme/web', [view({ waiting_for: null })], links, now).text;
      expect(unsaid).toContain('Waiting for checks</span></td>');
      expect(unsaid).not.toContain('waiting-for');
      expect(deploymentSummary(view(), 'acme/web', links, now).text).not.toContain('Waiting since');
    });
  });

  describe('live updates', () => {
    let server: ReturnType<Q['app']['listen']>;
    let base: string;
    beforeAll(async () => {
      server = q.app.listen(0);
      await new Promise((r) => server.once('listening', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    /** Reads an event stream until `until` matches what arrived, or the time is up. */
    async function readUntil(path: string, cookie: string, until: RegExp, ms: number, onFirst?: () => Promise<void>): Promise<string> {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), ms);
      const res = await fetch(`${base}${path}`, { headers: { cookie, accept: 'text/event-stream' }, signal: controller.signal });
      expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      let first = true;
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          text += decoder.decode(value, { stream: true });
          if (first && text.includes('\n\n')) {
            first = false;
            await onFirst?.();
          }
          if (until.test(text)) break;
        }
      } catch {
        // Aborted: the time is up, and the caller sees what arrived.
      } finally {
        clearTimeout(timer);
        controller.abort();
      }
      return text;
    }

    it('delivers a change to the list within 3 s', async () => {
      const { cookie } = await operatorSession(q.app);
      const env = await insertEnvironment(q.db, { pr: 9, status: 'PROVISIONING' });
      const started = Date.now();
      let changedAt = 0;
      const text = await readUntil('/events', cookie, /status-ready/, 3_000, async () => {
        changedAt = Date.now();
        await q.db.environment.update({ where: { id: env.id }, data: { status: 'READY' } });
      });
      expect(text).toMatch(/status-provisioning/);
      expect(text).toMatch(/status-ready/);
      expect(Date.now() - changedAt).toBeLessThan(3_000);
      expect(changedAt).toBeGreaterThanOrEqual(started);
    });

    it('streams a deployment\'s logs as they are appended', async () => {
      const { cookie } = await operatorSession(q.app);
      const env = await insertEnvironment(q.db, { pr: 10, status: 'UPDATING' });
      const d = await q.db.deployment.create({ data: { environmentId: env.id, commitSha: 'c'.repeat(40), status: 'IN_PROGRESS', startedAt: new Date(), logs: 'line 1\n' } });
      const text = await readUntil(`/environments/${env.id}/deployments/${d.id}/events?from=7`, cookie, /line 2/, 3_000, async () => {
        await q.db.$executeRaw`UPDATE deployments SET logs = logs || ${'line 2 <b>\n'} WHERE id = ${d.id}`;
      });
      expect(text).toContain('event: log\ndata: {"text":"line 2 <b>\\n","restarted":false}');
      expect(text).not.toContain('line 1');
    });

    it('ends the stream of a session that signed out', async () => {
      const { cookie, csrf } = await operatorSession(q.app);
      const text = await readUntil('/events', cookie, /signed-out/, 3_000, async () => {
        await request(q.app).post('/auth/sign-out').set('Cookie', cookie).type('form').send({ _csrf: csrf });
      });
      expect(text).toContain('event: signed-out');
    });
  });

  describe('actions from a session', () => {
    it('refuses without the session\'s CSRF token, queues with it (form: back to the page; fetch: 202), naming the operator', async () => {
      const { cookie, csrf } = await operatorSession(q.app);
      const env = await insertEnvironment(q.db, { status: 'READY' });
      const bare = await request(q.app).post(`/api/v1/environments/${env.id}/redeploy`).set('Cookie', cookie).type('form').send({});
      expect(bare.status).toBe(403);
      const wrong = await request(q.app).post(`/api/v1/environments/${env.id}/redeploy`).set('Cookie', cookie).set('X-CSRF-Token', 'nope');
      expect(wrong.status).toBe(403);
      expect(await q.actionsQueue.count()).toBe(0);

      const form = await request(q.app).post(`/api/v1/environments/${env.id}/redeploy`).set('Cookie', cookie).type('form').send({ _csrf: csrf });
      expect(form.status).toBe(303);
      expect(form.headers.location).toBe(`/environments/${env.id}?queued=redeploy`);
      expect((await request(q.app).get(form.headers.location!).set('Cookie', cookie)).text).toContain('Redeploy queued');
      const viaFetch = await request(q.app).post(`/api/v1/environments/${env.id}/destroy`).set('Cookie', cookie).set('X-CSRF-Token', csrf);
      expect(viaFetch.status).toBe(202);
      const jobs = await q.actionsQueue.getJobs(['waiting']);
      expect(jobs.map((j) => j.name).sort()).toEqual([ENVIRONMENT_ACTIONS.destroy, ENVIRONMENT_ACTIONS.redeploy].sort());
      for (const job of jobs) expect(environmentActionJobSchema.parse(job.data).requestedBy).toEqual({ kind: 'operator', login: 'ops' });
      expect((viaFetch.body as { request_id: string }).request_id).toBe(jobs.find((j) => j.name === ENVIRONMENT_ACTIONS.destroy)!.id);
    });

    it('offers only the actions that apply now, and sends a form whose action no longer applies back to the page with the reason', async () => {
      const { cookie, csrf } = await operatorSession(q.app);
      const provisioning = await insertEnvironment(q.db, { status: 'PROVISIONING' });
      const page = await request(q.app).get(`/environments/${provisioning.id}`).set('Cookie', cookie);
      expect(page.text).not.toContain('/redeploy"');
      expect(page.text).toContain(`action="/api/v1/environments/${provisioning.id}/destroy"`);
      const destroyed = await insertEnvironment(q.db, { status: 'DESTROYED' });
      const gone = await request(q.app).get(`/environments/${destroyed.id}`).set('Cookie', cookie);
      expect(gone.text).not.toContain('/redeploy"');
      expect(gone.text).not.toContain('/destroy"');

      const form = await request(q.app).post(`/api/v1/environments/${destroyed.id}/destroy`).set('Cookie', cookie).type('form').send({ _csrf: csrf });
      expect(form.status).toBe(303);
      expect(form.headers.location).toBe(`/environments/${destroyed.id}?refused=destroy`);
      expect((await request(q.app).get(form.headers.location!).set('Cookie', cookie)).text).toContain(`Not done: environment ${destroyed.id} is already destroyed.`);
      const viaFetch = await request(q.app).post(`/api/v1/environments/${destroyed.id}/destroy`).set('Cookie', cookie).set('X-CSRF-Token', csrf);
      expect(viaFetch.status).toBe(409);
      expect(await q.actionsQueue.count()).toBe(0);
    });

    it('still takes write tokens, and refuses a session cookie alongside no session (401)', async () => {
      const app = q.appWith({ admin: OPERATOR, apiTokens: ['r'.repeat(24)], apiWriteTokens: ['w'.repeat(24)], apiAuth: 'token' });
      const env = await insertEnvironment(q.db, { status: 'READY' });
      expect((await request(app).post(`/api/v1/environments/${env.id}/redeploy`).set('Authorization', `Bearer ${'w'.repeat(24)}`)).status).toBe(202);
      expect((await request(app).post(`/api/v1/environments/${env.id}/redeploy`)).status).toBe(401);
      expect((await request(app).post(`/api/v1/environments/${env.id}/redeploy`).set('Cookie', 'ephemera_session=s%3Agarbage.sig')).status).toBe(401);
    });
  });

  describe('GitHub sign-in', () => {
    let fake: FakeGithub;
    let app: Q['app'];
    const CALLBACK = 'http://dashboard.test/auth/github/callback';
    beforeAll(async () => {
      fake = await startFakeGithub();
      fake.setOAuthApp({ clientId: 'Iv23liDashboard', clientSecret: 'dashboard-secret', callbackUrl: CALLBACK });
      fake.setInstallationRepositories(41, ['acme/web', 'acme/api', 'acme/secret']);
      fake.setUserAccess('alice', { repositories: { 'acme/web': 'read', 'acme/api': 'write' } });
      app = q.appWith({
        admin: OPERATOR,
        dashboard: {
          githubUrl: fake.url,
          publicUrl: 'http://dashboard.test',
          github: new GithubSignIn({ clientId: 'Iv23liDashboard', clientSecret: 'dashboard-secret', webUrl: fake.url, apiUrl: fake.url, callbackUrl: CALLBACK, timeoutMs: 5_000 }),
        },
      });
    });
    afterAll(() => fake.close());

    async function githubSession(login: string) {
      fake.setOAuthUser(login);
      const start = await request(app).get('/auth/github');
      expect(start.status).toBe(302);
      const authorize = await fetch(start.headers.location!, { redirect: 'manual' });
      const back = new URL(authorize.headers.get('location')!);
      expect(`${back.origin}${back.pathname}`).toBe(CALLBACK);
      const callback = await request(app).get(`/auth/github/callback${back.search}`).set('Cookie', cookiesOf(start));
      expect(callback.status).toBe(303);
      const cookie = cookiesOf(callback);
      return { cookie, csrf: csrfOf((await request(app).get('/').set('Cookie', cookie)).text) };
    }

    it('offers GitHub on the sign-in page and refuses a callback whose state is not the browser\'s', async () => {
      expect((await request(app).get('/sign-in')).text).toContain('<a class="button" href="/auth/github">Sign in with GitHub</a>');
      const res = await request(app).get('/auth/github/callback?code=x&state=forged');
      expect(res.status).toBe(400);
      expect(cookiesOf(res)).not.toContain('ephemera_session');
    });

    it('shows only the repositories GitHub says the person reaches, with buttons only where they may write', async () => {
      const web = await insertEnvironment(q.db, { repo: 'acme/web', pr: 1, repositoryId: repositoryIdOf('acme/web') });
      const api = await insertEnvironment(q.db, { repo: 'acme/api', pr: 2, repositoryId: repositoryIdOf('acme/api') });
      // A row made before repository ids were kept: matched by full name, in any case.
      const apiOld = await insertEnvironment(q.db, { repo: 'Acme/API', pr: 3, repositoryId: null });
      const secret = await insertEnvironment(q.db, { repo: 'acme/secret', pr: 4, repositoryId: repositoryIdOf('acme/secret') });
      // Same name, another repository (renamed or recreated): GitHub's id decides.
      const impostor = await insertEnvironment(q.db, { repo: 'acme/web', pr: 5, repositoryId: 999 });

      const { cookie, csrf } = await githubSession('alice');
      const list = await request(app).get('/').set('Cookie', cookie);
      expect(list.text).toContain('<span>alice</span>');
      const ids = [...list.text.matchAll(/<tr data-id="(\d+)"/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
      expect(ids).toEqual([web.id, api.id, apiOld.id]);
      expect(list.text).toContain(`${fake.url}/acme/web/pull/1`);
      expect((await request(app).get(`/environments/${secret.id}`).set('Cookie', cookie)).status).toBe(404);
      expect((await request(app).get(`/environments/${impostor.id}`).set('Cookie', cookie)).status).toBe(404);

      const readOnly = await request(app).get(`/environments/${web.id}`).set('Cookie', cookie);
      expect(readOnly.status).toBe(200);
      expect(readOnly.text).not.toContain('/redeploy"');
      expect(readOnly.text).not.toContain('/destroy"');
      const refused = await request(app).post(`/api/v1/environments/${web.id}/redeploy`).set('Cookie', cookie).set('X-CSRF-Token', csrf);
      expect(refused.status).toBe(403);
      expect((await request(app).post(`/api/v1/environments/${secret.id}/redeploy`).set('Cookie', cookie).set('X-CSRF-Token', csrf)).status).toBe(404);
      expect(await q.actionsQueue.count()).toBe(0);

      const writable = await request(app).get(`/environments/${apiOld.id}`).set('Cookie', cookie);
      expect(writable.text).toContain(`action="/api/v1/environments/${apiOld.id}/redeploy"`);
      const queued = await request(app).post(`/api/v1/environments/${api.id}/redeploy`).set('Cookie', cookie).set('X-CSRF-Token', csrf);
      expect(queued.status).toBe(202);
      const [job] = await q.actionsQueue.getJobs(['waiting']);
      expect(environmentActionJobSchema.parse(job!.data).requestedBy).toEqual({ kind: 'github', login: 'alice' });
    });

    it('asks GitHub again once its answer is old: access taken away shows at once, and a revoked token ends the session', async () => {
      const fresh = q.appWith({
        admin: OPERATOR,
        dashboard: {
          githubUrl: fake.url,
          publicUrl: 'http://dashboard.test',
          accessTtlMs: 1,
          github: new GithubSignIn({ clientId: 'Iv23liDashboard', clientSecret: 'dashboard-secret', webUrl: fake.url, apiUrl: fake.url, callbackUrl: CALLBACK, timeoutMs: 5_000 }),
        },
      });
      const env = await insertEnvironment(q.db, { repo: 'acme/api', pr: 11, repositoryId: repositoryIdOf('acme/api') });
      fake.setUserAccess('bob', { repositories: { 'acme/api': 'write' } });
      const { cookie } = await githubSession('bob');
      await new Promise((r) => setTimeout(r, 5));
      expect((await request(fresh).get(`/environments/${env.id}`).set('Cookie', cookie)).text).toContain('/redeploy"');
      fake.setUserAccess('bob', { repositories: { 'acme/api': 'read' } });
      await new Promise((r) => setTimeout(r, 5));
      const readOnly = await request(fresh).get(`/environments/${env.id}`).set('Cookie', cookie);
      expect(readOnly.status).toBe(200);
      expect(readOnly.text).not.toContain('/redeploy"');
      fake.setUserAccess('bob', {});
      await new Promise((r) => setTimeout(r, 5));
      expect((await request(fresh).get(`/environments/${env.id}`).set('Cookie', cookie)).status).toBe(404);
      // GitHub failing keeps the last answer rather than signing people out.
      fake.failNext(/^\/user\/installations/, 502, 1);
      expect((await request(fresh).get('/').set('Cookie', cookie)).status).toBe(200);
      // A token GitHub no longer accepts (revoked, or the App uninstalled by the person) ends the session.
      fake.failNext(/^\/user\/installations/, 401, 1);
      await new Promise((r) => setTimeout(r, 5));
      expect((await request(fresh).get('/').set('Cookie', cookie)).status).toBe(303);
      expect((await request(app).get('/').set('Cookie', cookie)).status).toBe(303);
    });

    it('while GitHub fails, asks it again only after a pause, not on every request', async () => {
      fake.setUserAccess('carol', { repositories: { 'acme/web': 'read' } });
      const { cookie } = await githubSession('carol');
      // The session's answer made old, as after the cache's lifetime (and younger than the 5 minutes it may serve for).
      const id = /^s:([^.]+)\./.exec(decodeURIComponent(/ephemera_session=([^;]+)/.exec(cookie)![1]!))![1]!;
      const session = (await q.sessions.get(id))!;
      await q.sessions.save({ ...session, access: { ...session.access!, fetchedAt: Date.now() - 2 * 60_000 } });
      const asked = () => fake.requests.filter((r) => r.path.startsWith('/user/installations')).length;
      const before = asked();
      fake.failNext(/^\/user\/installations/, 502, 1);
      for (let i = 0; i < 3; i++) expect((await request(app).get('/').set('Cookie', cookie)).status).toBe(200);
      expect(asked() - before).toBe(1);
    });

    it('asks GitHub once per session while its answer is fresh, with the person\'s token', async () => {
      const before = fake.requests.length;
      const { cookie } = await githubSession('alice');
      const signInCalls = fake.requests.slice(before).filter((r) => r.path.startsWith('/user'));
      for (let i = 0; i < 3; i++) await request(app).get('/').set('Cookie', cookie);
      expect(fake.requests.slice(before).filter((r) => r.path.startsWith('/user'))).toHaveLength(signInCalls.length);
    });
  });
});
