import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { repositoryIdOf, startFakeGithub, type FakeGithub } from '@ephemera/testkit';
import { GithubSignIn } from '../src/dashboard/github-sign-in.js';
import { OperatorBackOff } from '../src/dashboard/operator-back-off.js';
import { SessionStore } from '../src/dashboard/session-store.js';
import { StreamLimits } from '../src/dashboard/stream-limits.js';
import { cookiesOf, csrfOf, githubSignIn, operatorSession, sessionIdOf, setCookie } from './dashboard-client.js';
import { insertEnvironment, startQuery } from './support.js';

/*
 * What the dashboard lets a signed-in person reach, and how sign-in is guarded: GitHub's answers cached and asked
 * again, fresh before an action, and failing closed; the live streams' limits; the GitHub token at rest and at
 * sign-out; PKCE; the cookies under https; the operator's back-off and address limit; ADMIN_SIGN_IN=off.
 */

type Q = Awaited<ReturnType<typeof startQuery>>;
const OPERATOR = { username: 'ops', password: 'a-long-operator-password' };
const CLIENT = { clientId: 'Iv23liAccess', clientSecret: 'access-client-secret' };
const PUBLIC_URL = 'http://dashboard.test';
const CALLBACK = `${PUBLIC_URL}/auth/github/callback`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('dashboard access', () => {
  let q: Q;
  const fakes: FakeGithub[] = [];
  const servers: Array<ReturnType<Express['listen']>> = [];

  beforeAll(async () => {
    q = await startQuery({ admin: OPERATOR, actionLimit: { limit: 10_000, windowMs: 60_000 } });
  });
  afterAll(() => q.close());
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
    await Promise.all(fakes.splice(0).map((f) => f.close()));
    await q.db.deployment.deleteMany();
    await q.db.environment.deleteMany();
    await q.actionsQueue.obliterate({ force: true });
  });

  /** A fake GitHub whose App reaches acme/web and acme/api, and a dashboard signing in with it. */
  async function withGithub(dashboard: Record<string, unknown> = {}) {
    const fake = await startFakeGithub();
    fakes.push(fake);
    fake.setOAuthApp({ ...CLIENT, callbackUrl: CALLBACK });
    fake.setInstallationRepositories(41, ['acme/web', 'acme/api']);
    const publicUrl = (dashboard.publicUrl as string | undefined) ?? PUBLIC_URL;
    const github = new GithubSignIn({ ...CLIENT, webUrl: fake.url, apiUrl: fake.url, callbackUrl: `${publicUrl}/auth/github/callback`, timeoutMs: 5_000 });
    const app = q.appWith({ admin: OPERATOR, dashboard: { githubUrl: fake.url, publicUrl, github, ...dashboard } });
    return { fake, app };
  }

  /** The user access token GitHub gave the dashboard for `login` (the last one it used on GET /user). */
  function tokenOf(fake: FakeGithub): string {
    const auth = fake.requests.filter((r) => r.path === '/user').at(-1)?.authorization;
    if (!auth) throw new Error('the dashboard never read /user');
    return auth.replace(/^Bearer /, '');
  }

  async function listen(app: Express): Promise<string> {
    const server = app.listen(0, '127.0.0.1');
    servers.push(server);
    await new Promise((r) => server.once('listening', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** An event stream read as it arrives: `until` waits for a pattern (or the time), `close` hangs up. */
  async function openStream(url: string, cookie: string) {
    const controller = new AbortController();
    const res = await fetch(url, { headers: { cookie, accept: 'text/event-stream' }, signal: controller.signal });
    const reader = res.body?.getReader();
    const decoder = new TextDecoder();
    let text = '';
    let done = false;
    return {
      status: res.status,
      async until(pattern: RegExp, ms: number): Promise<string> {
        const deadline = Date.now() + ms;
        while (!done && !pattern.test(text) && Date.now() < deadline) {
          const chunk = await Promise.race([reader!.read(), sleep(Math.max(1, deadline - Date.now())).then(() => null)]);
          if (chunk === null) break;
          if (chunk.done) done = true;
          else text += decoder.decode(chunk.value, { stream: true });
        }
        return text;
      },
      get ended() {
        return done;
      },
      close() {
        controller.abort();
      },
    };
  }

  describe('actions ask GitHub fresh', () => {
    it('refuses a redeploy or destroy by a person whose write access GitHub withdrew a second ago, though the cached answer still allowed it', async () => {
      const { fake, app } = await withGithub();
      fake.setUserAccess('bob', { repositories: { 'acme/api': 'write' } });
      const env = await insertEnvironment(q.db, { repo: 'acme/api', pr: 1, repositoryId: repositoryIdOf('acme/api') });
      const { cookie, csrf } = await githubSignIn(app, fake, 'bob');
      expect((await request(app).get(`/environments/${env.id}`).set('Cookie', cookie)).text).toContain(`/environments/${env.id}/redeploy"`);

      fake.setUserAccess('bob', { repositories: { 'acme/api': 'read' } });
      for (const action of ['redeploy', 'destroy']) {
        const res = await request(app).post(`/api/v1/environments/${env.id}/${action}`).set('Cookie', cookie).set('X-CSRF-Token', csrf);
        expect(res.status).toBe(403);
        expect((res.body as { detail: string }).detail).toMatch(/GitHub says bob may not act on acme\/api/);
      }
      expect(await q.actionsQueue.count()).toBe(0);
      // Asked with bob's own token, about bob, on that repository: once per action.
      const asked = fake.requests.filter((r) => r.path === '/repos/acme/api/collaborators/bob/permission');
      expect(asked.map((r) => r.authorization)).toEqual([`Bearer ${tokenOf(fake)}`, `Bearer ${tokenOf(fake)}`]);
      // The fresh answer is kept: the page stops offering the buttons.
      expect((await request(app).get(`/environments/${env.id}`).set('Cookie', cookie)).text).not.toContain('/redeploy"');

      // Given back (maintain counts as write): queued, on GitHub's word alone.
      fake.setUserAccess('bob', { repositories: { 'acme/api': 'maintain' } });
      const queued = await request(app).post(`/api/v1/environments/${env.id}/redeploy`).set('Cookie', cookie).set('X-CSRF-Token', csrf);
      expect(queued.status).toBe(202);
      expect(await q.actionsQueue.count()).toBe(1);
    });

    it('queues nothing when GitHub cannot say (503), and nothing for a repository GitHub no longer lets the App reach', async () => {
      const { fake, app } = await withGithub();
      fake.setUserAccess('bob', { repositories: { 'acme/api': 'admin' } });
      const env = await insertEnvironment(q.db, { repo: 'acme/api', pr: 2, repositoryId: repositoryIdOf('acme/api') });
      const { cookie, csrf } = await githubSignIn(app, fake, 'bob');
      fake.failNext(/\/collaborators\//, 502, 1);
      const unanswered = await request(app).post(`/api/v1/environments/${env.id}/redeploy`).set('Cookie', cookie).set('X-CSRF-Token', csrf);
      expect(unanswered.status).toBe(503);
      expect(unanswered.headers['retry-after']).toBeDefined();
      expect((unanswered.body as { detail: string }).detail).toMatch(/GitHub did not say whether bob may act on acme\/api; nothing was queued/);
      // The App uninstalled from the repository: GitHub answers 404 to the person's token.
      fake.setInstallationRepositories(41, ['acme/web']);
      const unreachable = await request(app).post(`/api/v1/environments/${env.id}/redeploy`).set('Cookie', cookie).set('X-CSRF-Token', csrf);
      expect(unreachable.status).toBe(403);
      expect(await q.actionsQueue.count()).toBe(0);
    });
  });

  describe('when GitHub cannot answer', () => {
    it('uses the last answer until it is 5 minutes old, then pages say GitHub is unavailable and show nothing; actions too are refused', async () => {
      const { fake, app } = await withGithub();
      fake.setUserAccess('carol', { repositories: { 'acme/web': 'write' } });
      const env = await insertEnvironment(q.db, { repo: 'acme/web', pr: 3, repositoryId: repositoryIdOf('acme/web') });
      const { cookie, csrf } = await githubSignIn(app, fake, 'carol');
      const id = sessionIdOf(cookie);
      /** Makes GitHub's last answer `ms` old, with no pause before asking again. */
      const age = async (ms: number) => {
        const session = (await q.sessions.get(id))!;
        await q.sessions.save({ ...session, access: { repositories: session.access!.repositories, fetchedAt: Date.now() - ms } });
      };
      const asked = () => fake.requests.filter((r) => r.path === '/user/installations').length;

      // 4 min 50 s old and GitHub failing: the last answer still serves.
      fake.failNext(/^\/user\/installations/, 502, 2);
      await age(4 * 60_000 + 50_000);
      const before = asked();
      const stale = await request(app).get('/').set('Cookie', cookie);
      expect(stale.status).toBe(200);
      expect(stale.text).toContain(`<tr data-id="${env.id}"`);

      // Over 5 minutes old: nothing is shown, on any page, and no action is taken.
      await age(5 * 60_000 + 1_000);
      for (const path of ['/', `/environments/${env.id}`, `/environments/${env.id}/deployments/1`, '/events']) {
        const res = await request(app).get(path).set('Cookie', cookie);
        expect({ path, status: res.status }).toEqual({ path, status: 503 });
        expect(res.text).toContain('GitHub is unavailable');
        expect(res.text).not.toContain('acme/web');
        expect(res.text).not.toContain('<tr data-id');
      }
      const action = await request(app).post(`/api/v1/environments/${env.id}/redeploy`).set('Cookie', cookie).set('X-CSRF-Token', csrf);
      expect(action.status).toBe(503);
      expect(await q.actionsQueue.count()).toBe(0);
      // Asked once per failure, then only after a pause, not on every page.
      expect(asked() - before).toBe(2);

      // GitHub answers again: shown again.
      await age(5 * 60_000 + 1_000);
      const back = await request(app).get('/').set('Cookie', cookie);
      expect(back.status).toBe(200);
      expect(back.text).toContain(`<tr data-id="${env.id}"`);
    });
  });

  describe('live streams', () => {
    it('the deployment-log stream re-checks access on the environment stream\'s schedule: access withdrawn, no more log lines, and the stream ends', async () => {
      const { fake, app } = await withGithub({ accessTtlMs: 300 });
      fake.setUserAccess('dave', { repositories: { 'acme/web': 'read' } });
      const env = await insertEnvironment(q.db, { repo: 'acme/web', pr: 4, repositoryId: repositoryIdOf('acme/web'), status: 'UPDATING' });
      const d = await q.db.deployment.create({ data: { environmentId: env.id, commitSha: 'd'.repeat(40), status: 'IN_PROGRESS', startedAt: new Date(), logs: 'line 1\n' } });
      const { cookie } = await githubSignIn(app, fake, 'dave');
      const base = await listen(app);
      const stream = await openStream(`${base}/environments/${env.id}/deployments/${d.id}/events?from=7`, cookie);
      expect(stream.status).toBe(200);
      await q.db.$executeRaw`UPDATE deployments SET logs = logs || ${'line 2\n'} WHERE id = ${d.id}`;
      expect(await stream.until(/line 2/, 3_000)).toContain('line 2');

      fake.setUserAccess('dave', {});
      // Longer than the access cache: any answer read from now on is GitHub's new one.
      await sleep(400);
      await q.db.$executeRaw`UPDATE deployments SET logs = logs || ${'secret line 3\n'} WHERE id = ${d.id}`;
      const text = await stream.until(/event: gone/, 3_000);
      stream.close();
      expect(text).not.toContain('secret line 3');
      expect(text).toContain('event: gone');
    });

    it('ends a stream with an "unavailable" event once GitHub\'s last answer is over 5 minutes old and GitHub does not answer', async () => {
      const { fake, app } = await withGithub();
      fake.setUserAccess('carol', { repositories: { 'acme/web': 'read' } });
      const { cookie } = await githubSignIn(app, fake, 'carol');
      const base = await listen(app);
      const stream = await openStream(`${base}/events`, cookie);
      expect(await stream.until(/^data: /m, 3_000)).toMatch(/^data: /m);
      fake.failNext(/^\/user\/installations/, 502, 1);
      const session = (await q.sessions.get(sessionIdOf(cookie)))!;
      await q.sessions.save({ ...session, access: { repositories: session.access!.repositories, fetchedAt: Date.now() - 5 * 60_000 - 1_000 } });
      const text = await stream.until(/event: unavailable/, 3_000);
      stream.close();
      expect(text).toContain('event: unavailable');
    });

    it('allows 4 live streams per session and DASHBOARD_MAX_STREAMS in all; past either, 429', async () => {
      const app = q.appWith({ admin: OPERATOR, dashboard: { streams: new StreamLimits(q.redis, `${q.prefix}-streams`, { total: 5 }) } });
      const base = await listen(app);
      const a = await operatorSession(app, OPERATOR);
      const b = await operatorSession(app, OPERATOR);
      const open = [];
      for (let i = 0; i < 4; i++) open.push(await openStream(`${base}/events`, a.cookie));
      expect(open.map((s) => s.status)).toEqual([200, 200, 200, 200]);
      const fifth = await openStream(`${base}/events`, a.cookie);
      expect(fifth.status).toBe(429);
      expect(await fifth.until(/never/, 500)).toMatch(/at most 4 live views per session/);

      // Another session has its own 4, up to the service's 5 in all.
      const other = await openStream(`${base}/events`, b.cookie);
      expect(other.status).toBe(200);
      const overTotal = await openStream(`${base}/events`, b.cookie);
      expect(overTotal.status).toBe(429);
      expect(await overTotal.until(/never/, 500)).toMatch(/too many live views on this server/);

      // A closed stream frees its place.
      open.shift()!.close();
      let again = await openStream(`${base}/events`, b.cookie);
      for (let i = 0; again.status !== 200 && i < 40; i++) {
        await sleep(50);
        again = await openStream(`${base}/events`, b.cookie);
      }
      expect(again.status).toBe(200);
      for (const s of [...open, other, again]) s.close();
    });
  });

  describe('GitHub sign-in', () => {
    it('uses PKCE (S256): the fake exchanges a code only with its verifier, so a code carried into another browser\'s sign-in is refused', async () => {
      const { fake, app } = await withGithub();
      fake.setUserAccess('erin', { repositories: { 'acme/web': 'write' } });
      fake.setOAuthUser('erin');
      const victim = await request(app).get('/auth/github');
      const authorizeUrl = new URL(victim.headers.location!);
      expect(authorizeUrl.searchParams.get('code_challenge_method')).toBe('S256');
      const challenge = authorizeUrl.searchParams.get('code_challenge')!;
      expect(challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const victimBack = new URL((await fetch(authorizeUrl, { redirect: 'manual' })).headers.get('location')!);

      // Another browser, its own state and verifier, the victim's code.
      const attacker = await request(app).get('/auth/github');
      const attackerState = new URL(attacker.headers.location!).searchParams.get('state')!;
      const injected = await request(app)
        .get(`/auth/github/callback?code=${victimBack.searchParams.get('code')}&state=${encodeURIComponent(attackerState)}`)
        .set('Cookie', cookiesOf(attacker));
      expect(injected.status).toBe(502);
      expect(cookiesOf(injected)).not.toMatch(/ephemera_session/);

      const own = await request(app).get(`/auth/github/callback${victimBack.search}`).set('Cookie', cookiesOf(victim));
      expect(own.status).toBe(303);
      expect(cookiesOf(own)).toMatch(/ephemera_session=/);
      // The verifier sent with the code is the one the challenge was made from.
      const verifier = String(fake.requests.filter((r) => r.path === '/login/oauth/access_token').at(-1)!.body!.code_verifier);
      expect(createHash('sha256').update(verifier).digest('base64url')).toBe(challenge);
    });

    it('tells a person who reaches no repository Ephemera serves so, starts no session, and revokes the token', async () => {
      const { fake, app } = await withGithub();
      fake.setUserAccess('frank', {});
      const sessionsBefore = (await q.redis.keys(`${q.prefix}:dashboard-session:*`)).length;
      const { callback, cookie } = await githubSignIn(app, fake, 'frank');
      expect(callback.status).toBe(403);
      expect(callback.text).toContain('You reach no repository Ephemera serves');
      expect(callback.text).toContain('frank');
      expect(cookie).not.toMatch(/ephemera_session/);
      expect((await q.redis.keys(`${q.prefix}:dashboard-session:*`)).length).toBe(sessionsBefore);
      expect(fake.requests.filter((r) => r.method === 'DELETE').map((r) => r.path)).toEqual([`/applications/${CLIENT.clientId}/token`]);
      expect((await fetch(`${fake.url}/user`, { headers: { authorization: `Bearer ${tokenOf(fake)}` } })).status).toBe(401);
    });

    it('keeps the GitHub token in Redis only encrypted (AES-256-GCM, key from SESSION_SECRET)', async () => {
      const { fake, app } = await withGithub();
      fake.setUserAccess('gina', { repositories: { 'acme/web': 'read' } });
      const { cookie } = await githubSignIn(app, fake, 'gina');
      const token = tokenOf(fake);
      const id = sessionIdOf(cookie);
      const key = `${q.prefix}:dashboard-session:${createHash('sha256').update(id).digest('hex')}`;
      const raw = (await q.redis.get(key))!;
      expect(raw).toContain('"login":"gina"');
      expect(raw).not.toContain(token);
      expect(raw).not.toContain(token.slice(4));
      for (const other of await q.redis.keys(`${q.prefix}:*`)) {
        if ((await q.redis.type(other)) === 'string') expect(await q.redis.get(other)).not.toContain(token);
      }
      const stored = JSON.parse(raw) as Record<string, unknown>;
      expect(stored.githubToken).toBeUndefined();
      expect(stored.sealedToken).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
      // The store reads it back with the same secret; with another SESSION_SECRET the session is no session.
      expect((await q.sessions.get(id))?.githubToken).toBe(token);
      expect(await new SessionStore(q.redis, q.prefix, 'another-session-secret').get(id)).toBeNull();
      // Moved to another session's key, the sealed token does not open (it is bound to its session).
      const moved = `${q.prefix}:dashboard-session:${createHash('sha256').update('another-id').digest('hex')}`;
      await q.redis.set(moved, raw, 'PX', 60_000);
      expect(await q.sessions.get('another-id')).toBeNull();
    });

    it('seals a token that a session written before tokens were sealed holds in clear, at its first read', async () => {
      const id = 'a-session-from-before';
      const key = `${q.prefix}:dashboard-session:${createHash('sha256').update(id).digest('hex')}`;
      const token = 'ghu_' + 'L'.repeat(36);
      const legacy = { id, kind: 'github', login: 'ivy', csrf: 'c', expiresAt: Date.now() + 60_000, githubToken: token, access: { fetchedAt: Date.now(), repositories: [] } };
      await q.redis.set(key, JSON.stringify(legacy), 'PX', 60_000);
      expect((await q.sessions.get(id))?.githubToken).toBe(token);
      const raw = (await q.redis.get(key))!;
      expect(raw).not.toContain(token);
      expect(JSON.parse(raw)).toMatchObject({ login: 'ivy', sealedToken: expect.stringMatching(/^v1\./) });
      expect((await q.sessions.get(id))?.githubToken).toBe(token);
    });

    it('revokes the token with GitHub at sign-out (DELETE /applications/{client_id}/token, as the App)', async () => {
      const { fake, app } = await withGithub();
      fake.setUserAccess('hal', { repositories: { 'acme/web': 'read' } });
      const { cookie, csrf } = await githubSignIn(app, fake, 'hal');
      const token = tokenOf(fake);
      expect((await fetch(`${fake.url}/user`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      const out = await request(app).post('/auth/sign-out').set('Cookie', cookie).type('form').send({ _csrf: csrf });
      expect(out.status).toBe(303);
      const deletes = fake.requests.filter((r) => r.method === 'DELETE');
      expect(deletes).toEqual([
        expect.objectContaining({
          path: `/applications/${CLIENT.clientId}/token`,
          authorization: `Basic ${Buffer.from(`${CLIENT.clientId}:${CLIENT.clientSecret}`).toString('base64')}`,
          body: { access_token: '[masked]' },
        }),
      ]);
      expect((await fetch(`${fake.url}/user`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
      expect((await request(app).get('/').set('Cookie', cookie)).status).toBe(303);
    });
  });

  describe('cookies under an https PUBLIC_URL', () => {
    it('are __Host- prefixed and Secure, and only the prefixed session cookie is a session', async () => {
      const { fake, app } = await withGithub({ publicUrl: 'https://dashboard.test' });
      const page = await request(app).get('/sign-in');
      expect(setCookie(page, '__Host-ephemera_login_csrf')).toMatch(/; Path=\/; Expires=[^;]+; HttpOnly; Secure; SameSite=Lax$/);
      const start = await request(app).get('/auth/github');
      expect(setCookie(start, '__Host-ephemera_oauth_state')).toMatch(/; Path=\/; Expires=[^;]+; HttpOnly; Secure; SameSite=Lax$/);
      expect(fake.requests).toHaveLength(0);

      const { res, cookie, csrf } = await operatorSession(app, OPERATOR);
      expect(res.status).toBe(303);
      const set = setCookie(res, '__Host-ephemera_session')!;
      expect(set).toMatch(/^__Host-ephemera_session=s%3A[^;]+; Max-Age=\d+; Path=\/; Expires=[^;]+; HttpOnly; Secure; SameSite=Lax$/);
      expect(set).not.toMatch(/Domain=/i);
      expect((res.headers['set-cookie'] as unknown as string[]).every((c) => c.startsWith('__Host-'))).toBe(true);
      expect((await request(app).get('/').set('Cookie', cookie)).status).toBe(200);
      expect((await request(app).get('/').set('Cookie', cookie.replace(/__Host-ephemera_session/, 'ephemera_session'))).status).toBe(303);
      // The API's actions know the session by its prefixed name too.
      const env = await insertEnvironment(q.db, { status: 'READY' });
      expect((await request(app).post(`/api/v1/environments/${env.id}/redeploy`).set('Cookie', cookie).set('X-CSRF-Token', csrf)).status).toBe(202);
      const out = await request(app).post('/auth/sign-out').set('Cookie', cookie).type('form').send({ _csrf: csrf });
      // Cleared with the attributes it was set with, which a __Host- cookie needs to be replaced at all.
      expect(setCookie(out, '__Host-ephemera_session')).toMatch(/^__Host-ephemera_session=; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax$/);
    });
  });

  describe('operator sign-in', () => {
    it('backs off per username: after 10 failures, from any addresses, even the right password waits', async () => {
      const app = q.appWith({ admin: OPERATOR, dashboard: { operatorBackOff: new OperatorBackOff(q.redis, `${q.prefix}-backoff-1`, { baseMs: 500 }) } });
      for (let i = 0; i < 10; i++) {
        expect((await operatorSession(app, { ...OPERATOR, password: `guess-${i}` }, `203.0.113.${i + 1}`)).res.status).toBe(401);
      }
      const waiting = await operatorSession(app, OPERATOR, '198.51.100.7');
      expect(waiting.res.status).toBe(429);
      expect(waiting.res.headers['retry-after']).toBe('1');
      expect(waiting.res.text).toContain('Too many failed sign-ins as ops: try again in 1 s.');
      expect(waiting.cookie).not.toMatch(/ephemera_session/);
      // Other usernames are not held back.
      expect((await operatorSession(app, { username: 'someone', password: 'x' }, '198.51.100.7')).res.status).toBe(401);
      await sleep(600);
      const signedIn = await operatorSession(app, OPERATOR, '198.51.100.7');
      expect(signedIn.res.status).toBe(303);
      // A sign-in forgets the failures: the next mistake costs no wait.
      expect((await operatorSession(app, { ...OPERATOR, password: 'typo' })).res.status).toBe(401);
      expect((await operatorSession(app, OPERATOR)).res.status).toBe(303);
    });

    it('limits each address only loosely: failures on other usernames do not lock the operator out, and past 50 an hour only that address waits', async () => {
      const app = q.appWith({ admin: OPERATOR, dashboard: { operatorBackOff: new OperatorBackOff(q.redis, `${q.prefix}-backoff-2`) } });
      const shared = '192.0.2.1';
      for (let i = 0; i < 20; i++) expect((await operatorSession(app, { username: `guess-${i}`, password: 'x' }, shared)).res.status).toBe(401);
      expect((await operatorSession(app, OPERATOR, shared)).res.status).toBe(303);
      for (let i = 20; i < 50; i++) expect((await operatorSession(app, { username: `guess-${i}`, password: 'x' }, shared)).res.status).toBe(401);
      const blocked = await operatorSession(app, { username: 'guess-50', password: 'x' }, shared);
      expect(blocked.res.status).toBe(429);
      expect(blocked.res.text).toContain('Too many failed sign-ins from this address');
      expect((await operatorSession(app, OPERATOR, '192.0.2.2')).res.status).toBe(303);
    });

    it('is gone with ADMIN_SIGN_IN=off: no form, and posting it is 404; Bull Board keeps its basic auth', async () => {
      const app = q.appWith({ admin: { ...OPERATOR, signIn: false } });
      const page = await request(app).get('/sign-in');
      expect(page.status).toBe(200);
      expect(page.text).not.toContain('name="password"');
      expect(page.text).not.toContain('action="/auth/sign-in"');
      const posted = await request(app).post('/auth/sign-in').set('Cookie', cookiesOf(page)).type('form').send({ _csrf: csrfOf(page.text), ...OPERATOR });
      expect(posted.status).toBe(404);
      expect(cookiesOf(posted)).not.toMatch(/ephemera_session/);
      expect((await request(app).get('/admin/queues').auth(OPERATOR.username, OPERATOR.password)).status).toBe(200);
    });
  });
});
