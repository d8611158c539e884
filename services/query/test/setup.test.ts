import { createPrivateKey } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Express } from 'express';
import request from 'supertest';
import { applyGithubAppEnv, githubAppBanner, readEnvFile } from '@ephemera/devstack/github-app-env';
import { createLogger } from '@ephemera/runtime';
import { GITHUB_APP_EVENTS, GITHUB_APP_PERMISSIONS } from '@ephemera/schema';
import { startFakeGithub, type FakeGithub } from '@ephemera/testkit';
import type { SetupDeps } from '../src/setup/create-setup.js';
import { defaultAppName } from '../src/setup/github-app-manifest.js';
import { OctokitManifestConversion } from '../src/setup/manifest-conversion.js';
import { SETUP_STATE_TTL_MS, setupState } from '../src/setup/setup-state.js';
import { cookiesOf, operatorSession, setCookie } from './dashboard-client.js';
import { startQuery } from './support.js';

/*
 * /setup without a browser: what the manifest holds, who is served, the state, and what is written. The whole flow in
 * Chromium is in browser/dashboard-browser.test.ts.
 */

type Q = Awaited<ReturnType<typeof startQuery>>;
const OPERATOR = { username: 'ops', password: 'a-long-operator-password' };
const PUBLIC_URL = 'http://localhost:3002';
const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };
const unescape = (text: string) => text.replace(/&(?:amp|lt|gt|quot|#39);/g, (e) => ENTITIES[e]!);
/** The manifest the page posts to GitHub, and where. */
const formOf = (text: string) => ({
  action: unescape(/<form class="setup-create" method="post" action="([^"]+)">/.exec(text)![1]!),
  manifest: JSON.parse(unescape(/name="manifest" value="([^"]*)"/.exec(text)![1]!)) as Record<string, unknown>,
});
/** This machine's address on a network, for a request that is not local (none: those tests are skipped). */
const networkAddress: string | undefined = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

describe('/setup', () => {
  let q: Q;
  let fake: FakeGithub;
  let dir: string;
  let envFile: string;
  const logLines: string[] = [];
  const logger = createLogger({
    service: 'query',
    level: 'info',
    destination: new Writable({
      write(chunk: Buffer, _enc, cb) {
        logLines.push(chunk.toString());
        cb();
      },
    }),
  });

  beforeAll(async () => {
    q = await startQuery({ admin: OPERATOR });
    fake = await startFakeGithub();
    fake.setOAuthUser('mona');
  });
  afterAll(async () => {
    await fake.close();
    await q.close();
  });
  // Each test saves to a directory of its own, which /setup makes.
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ephemera-setup-'));
    envFile = path.join(dir, 'state', 'github-app.env');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const appWith = (setup: Partial<SetupDeps> = {}): Express => {
    const deps: Omit<SetupDeps, 'logger'> = {
      githubUrl: fake.url,
      conversion: new OctokitManifestConversion({ apiUrl: fake.url, timeoutMs: 5_000 }),
      envFile,
      publicUrl: PUBLIC_URL,
      production: false,
      cookieSecret: 'a-test-cookie-secret',
      defaultName: 'ephemera-test',
      ...setup,
    };
    return q.appWith({ admin: OPERATOR, setup: deps, logger });
  };

  let registrations = 0;
  /**
   * The page, its state cookie, and GitHub's code for its manifest (registered on the fake, as a browser would, under a
   * name of its own: GitHub's are unique).
   */
  async function begin(app: Express) {
    const page = await request(app).get(`/setup?name=ephemera-test-${++registrations}`);
    expect(page.status).toBe(200);
    const { action, manifest } = formOf(page.text);
    const form = await fetch(action, { method: 'POST', body: new URLSearchParams({ manifest: JSON.stringify(manifest) }) });
    const create = /action="([^"]+)"/.exec(await form.text())![1]!;
    const back = await fetch(`${fake.url}${create}`, { method: 'POST', body: new URLSearchParams({}), redirect: 'manual' });
    const location = new URL(back.headers.get('location')!);
    return { page, cookie: cookiesOf(page), manifest, code: location.searchParams.get('code')!, state: location.searchParams.get('state')!, callback: `${location.pathname}${location.search}` };
  }
  const conversions = () => fake.requests.filter((r) => r.path.startsWith('/app-manifests/')).length;

  it('shows what will be registered and posts exactly that manifest to GitHub, with a state bound to the browser', async () => {
    const app = appWith();
    const page = await request(app).get('/setup');
    expect(page.status).toBe(200);
    const { action, manifest } = formOf(page.text);
    expect(manifest).toEqual({
      name: 'ephemera-test',
      url: PUBLIC_URL,
      description: expect.any(String),
      hook_attributes: { url: `${PUBLIC_URL}/api/v1/webhooks/github`, active: true },
      redirect_url: `${PUBLIC_URL}/setup/callback`,
      callback_urls: [`${PUBLIC_URL}/auth/github/callback`],
      public: false,
      default_permissions: GITHUB_APP_PERMISSIONS,
      default_events: [...GITHUB_APP_EVENTS],
      request_oauth_on_install: false,
    });
    expect(GITHUB_APP_EVENTS).toEqual(['pull_request', 'pull_request_review', 'check_run', 'check_suite', 'workflow_run', 'status']);
    for (const name of Object.keys(GITHUB_APP_PERMISSIONS)) expect(page.text).toContain(`data-permission="${name}"`);
    // The webhook goes to this machine, which GitHub cannot reach: the page says what to do.
    expect(page.text).toContain('set SMEE_URL');

    const cookie = setCookie(page, 'ephemera_setup_state')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).toMatch(/Path=\/setup/);
    expect(cookie).not.toMatch(/Secure/);
    const state = new URL(action).searchParams.get('state')!;
    expect(action).toBe(`${fake.url}/settings/apps/new?state=${state}`);
    expect(decodeURIComponent(cookie)).toContain(`=s:${state}.`);
    // The form may post to GitHub and nowhere else but here; no script runs inline.
    expect(page.headers['content-security-policy']).toContain(`form-action 'self' ${fake.url}`);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['cache-control']).toBe('no-store');

    // The same browser keeps its state while it changes the name or the owner.
    const again = await request(app).get('/setup?name=ephemera-other&organization=acme').set('Cookie', cookiesOf(page));
    expect(formOf(again.text).action).toBe(`${fake.url}/organizations/acme/settings/apps/new?state=${state}`);
    expect(formOf(again.text).manifest.name).toBe('ephemera-other');
    expect(setCookie(again, 'ephemera_setup_state')).toBeUndefined();
  });

  it('uses the smee.io channel as the webhook URL when there is one, and a https PUBLIC_URL makes the cookie Secure', async () => {
    const page = await request(appWith({ smeeUrl: 'https://smee.io/abc123', publicUrl: 'https://ephemera.example.com' })).get('/setup');
    expect(formOf(page.text).manifest.hook_attributes).toEqual({ url: 'https://smee.io/abc123', active: true });
    expect(page.text).not.toContain('set SMEE_URL');
    expect(setCookie(page, '__Secure-ephemera_setup_state')).toMatch(/; Secure/);
  });

  it('escapes what it shows, and refuses a name GitHub would not take', async () => {
    const app = appWith();
    const page = await request(app).get(`/setup?name=${encodeURIComponent('"><img src=x>')}`);
    expect(page.status).toBe(200);
    expect(page.text).not.toContain('<img');
    expect(formOf(page.text).manifest.name).toBe('"><img src=x>');
    const long = await request(app).get(`/setup?name=${'x'.repeat(35)}`);
    expect(long.status).toBe(400);
    expect(long.text).toContain('34 characters');
    expect((await request(app).get('/setup?organization=-bad-')).status).toBe(400);
  });

  it('names the App after this machine by default', () => {
    expect(defaultAppName('Build-Box.local')).toBe('ephemera-build-box-local');
    expect(defaultAppName('a'.repeat(60))).toHaveLength(34);
  });

  it('converts GitHub\'s code and saves the credentials, 0600, in the format npm start reads; then answers 404', async () => {
    const app = appWith();
    const { cookie, callback } = await begin(app);
    const done = await request(app).get(callback).set('Cookie', cookie);
    expect(done.status).toBe(200);
    const registered = fake.apps.at(-1)!;
    expect(done.text).toContain(`href="${registered.htmlUrl}/installations/new"`);
    expect(done.text).not.toContain(registered.webhookSecret);
    expect(setCookie(done, 'ephemera_setup_state')).toMatch(/^ephemera_setup_state=;/);

    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(envFile)).mode & 0o777).toBe(0o700);
    const saved = readEnvFile(envFile)!;
    expect(saved).toEqual({
      GITHUB_APP_ID: String(registered.id),
      GITHUB_APP_PRIVATE_KEY: expect.stringMatching(/^-----BEGIN RSA PRIVATE KEY-----\\n.+\\n-----END RSA PRIVATE KEY-----$/),
      GITHUB_WEBHOOK_SECRET: registered.webhookSecret,
      GITHUB_CLIENT_ID: registered.clientId,
      GITHUB_CLIENT_SECRET: registered.clientSecret,
    });
    // As the worker reads a PEM given as text.
    expect(createPrivateKey(saved.GITHUB_APP_PRIVATE_KEY!.replace(/\\n/g, '\n')).asymmetricKeyType).toBe('rsa');
    const log = logLines.join('');
    for (const secret of [registered.webhookSecret, registered.clientSecret, registered.pem.split('\n')[1]!]) expect(log).not.toContain(secret);
    expect(log).toContain('GitHub App registered through /setup');

    for (const path of ['/setup', callback]) expect((await request(app).get(path).set('Cookie', cookie)).status).toBe(404);
    expect((await request(app).get('/sign-in')).text).not.toContain('Register the GitHub App');
  });

  it('refuses a callback whose state is not the browser\'s, or comes without a cookie: no conversion, nothing saved', async () => {
    const app = appWith();
    const { cookie, code, state } = await begin(app);
    const before = conversions();
    for (const [query, jar] of [
      [`?code=${code}&state=not-the-state`, cookie],
      [`?code=${code}`, cookie],
      [`?code=${code}&state=${state}`, ''],
      // The signed value's first character changed (to X, or to Y when it already is X).
      [`?code=${code}&state=${state}`, cookie.replace(/s%3A(.)/, (_m, c: string) => `s%3A${c === 'X' ? 'Y' : 'X'}`)],
    ] as const) {
      const res = await request(app).get(`/setup/callback${query}`).set('Cookie', jar);
      expect(res.status).toBe(400);
      expect(res.text).toContain('did not match the setup this browser began');
    }
    expect(conversions()).toBe(before);
    expect(() => statSync(envFile)).toThrow();
    // The state is good once: after a refused callback the browser starts again.
    expect((await request(app).get(`/setup/callback?code=${code}&state=${state}`).set('Cookie', cookie)).status).toBe(200);
  });

  it('keeps a state for an hour at most', () => {
    const { state, cookie } = setupState.issue(1_000);
    expect(setupState.matches(state, cookie, 1_000 + SETUP_STATE_TTL_MS - 1)).toBe(true);
    expect(setupState.matches(state, cookie, 1_000 + SETUP_STATE_TTL_MS)).toBe(false);
    expect(setupState.matches(state.toUpperCase(), cookie, 1_000)).toBe(false);
  });

  it('saves nothing when GitHub refuses the code (used before) or does not answer, and never replaces a file', async () => {
    const app = appWith();
    const first = await begin(app);
    // The code traded by someone else first: GitHub answers 404.
    await fetch(`${fake.url}/app-manifests/${first.code}/conversions`, { method: 'POST' });
    const used = await request(app).get(first.callback).set('Cookie', first.cookie);
    expect(used.status).toBe(400);
    expect(used.text).toContain('GitHub did not accept the code');

    const second = await begin(app);
    fake.failNext(/^\/app-manifests\//, 502);
    expect((await request(app).get(second.callback).set('Cookie', second.cookie)).status).toBe(502);
    expect(() => statSync(envFile)).toThrow();

    // A file without an App id does not count as configured, yet is never replaced.
    mkdirSync(path.dirname(envFile));
    writeFileSync(envFile, '# kept\n');
    const third = await begin(app);
    const kept = await request(app).get(third.callback).set('Cookie', third.cookie);
    expect(kept.status).toBe(409);
    expect(kept.text).toContain(`delete it on GitHub (${fake.apps.at(-1)!.htmlUrl})`);
    expect(readFileSync(envFile, 'utf8')).toBe('# kept\n');
  });

  it('answers 404 once an App is configured (GITHUB_APP_ID), and the front page offers setup only until then', async () => {
    const offer = '<a href="/setup">Register the GitHub App</a>';
    const open = appWith();
    expect((await request(open).get('/sign-in')).text).toContain(offer);
    const { cookie } = await operatorSession(open, OPERATOR);
    expect((await request(open).get('/').set('Cookie', cookie)).text).toContain(offer);
    const configured = appWith({ appConfigured: true });
    expect((await request(configured).get('/setup')).status).toBe(404);
    expect((await request(configured).get('/setup/callback?code=a&state=b')).status).toBe(404);
    expect((await request(configured).get('/sign-in')).text).not.toContain(offer);
    expect((await request(configured).get('/').set('Cookie', cookie)).text).not.toContain(offer);
  });

  it('is not served in production without SETUP_TOKEN', async () => {
    const app = appWith({ production: true });
    for (const path of ['/setup', '/setup/callback?code=a&state=b']) {
      const res = await request(app).get(path);
      expect(res.status).toBe(404);
      expect(res.type).toBe('application/problem+json');
    }
    expect((await request(app).get('/sign-in')).text).not.toContain('Register the GitHub App');
  });

  it('with SETUP_TOKEN asks for it, in constant time and a few tries per address, then serves whoever gave it', async () => {
    const token = 't'.repeat(24);
    const app = appWith({ token, production: true, tokenLimit: { limit: 2, windowMs: 60_000 } });
    const ask = await request(app).get('/setup');
    expect(ask.status).toBe(200);
    expect(ask.text).toContain('name="token" type="password"');
    expect(ask.text).not.toContain('name="manifest"');
    expect((await request(app).post('/setup').type('form').send({ token: 'wrong' })).status).toBe(401);
    const given = await request(app).post('/setup').type('form').send({ token });
    expect(given.status).toBe(303);
    const page = await request(app).get('/setup').set('Cookie', cookiesOf(given));
    expect(formOf(page.text).manifest.name).toBe('ephemera-test');
    expect((await request(app).post('/setup').type('form').send({ token: 'wrong' })).status).toBe(401);
    expect((await request(app).post('/setup').type('form').send({ token })).status).toBe(429);
  });

  (networkAddress ? describe : describe.skip)('from another machine', () => {
    const over = async (app: Express, pathAndQuery: string, headers: Record<string, string> = {}) => {
      const server = app.listen(0, networkAddress!);
      await new Promise((r) => server.once('listening', r));
      try {
        const res = await fetch(`http://${networkAddress}:${(server.address() as AddressInfo).port}${pathAndQuery}`, { headers, redirect: 'manual' });
        return { status: res.status, text: await res.text() };
      } finally {
        await new Promise<void>((r) => server.close(() => r()));
      }
    };

    it('refuses /setup and its callback, whatever a forwarded header says, and offers no link', async () => {
      const app = appWith();
      for (const target of ['/setup', '/setup/callback?code=a&state=b']) {
        const res = await over(app, target, { 'x-forwarded-for': '127.0.0.1' });
        expect(res.status).toBe(403);
        expect(res.text).toContain('SETUP_TOKEN');
      }
      expect((await over(app, '/sign-in')).text).not.toContain('Register the GitHub App');
    });

    it('asks for SETUP_TOKEN when it is set', async () => {
      const res = await over(appWith({ token: 't'.repeat(24) }), '/setup');
      expect(res.status).toBe(200);
      expect(res.text).toContain('name="token"');
    });
  });
});

describe('npm start and the saved App (packages/devstack)', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(path.join(tmpdir(), 'ephemera-start-'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('offers /setup while no GitHub App is known', () => {
    const env: NodeJS.ProcessEnv = {};
    const app = applyGithubAppEnv(env, root);
    expect(app).toEqual({ file: path.join(root, '.ephemera', 'github-app.env'), fromFile: [], offerSetup: true });
    expect(env.GITHUB_APP_ENV_FILE).toBe(app.file);
    expect(githubAppBanner(env, app, 'http://localhost:3002', root)).toBe('Register the GitHub App: http://localhost:3002/setup');
    const named = { GITHUB_APP_ID: '7' };
    expect(applyGithubAppEnv(named, root).offerSetup).toBe(false);
  });

  it('passes the file\'s settings on, where the environment does not set them', () => {
    const file = path.join(root, 'custom.env');
    writeFileSync(file, '# comment\nGITHUB_APP_ID=12\nGITHUB_WEBHOOK_SECRET=from-the-file\nGITHUB_CLIENT_ID=Iv23\n\nGITHUB_CLIENT_SECRET=\n');
    const env: NodeJS.ProcessEnv = { GITHUB_APP_ENV_FILE: 'custom.env', GITHUB_CLIENT_ID: 'Iv-env' };
    const app = applyGithubAppEnv(env, root);
    expect(app).toEqual({ file, fromFile: ['GITHUB_APP_ID', 'GITHUB_WEBHOOK_SECRET'], offerSetup: false });
    expect(env).toMatchObject({ GITHUB_APP_ID: '12', GITHUB_WEBHOOK_SECRET: 'from-the-file', GITHUB_CLIENT_ID: 'Iv-env' });
    expect(env.GITHUB_CLIENT_SECRET).toBeUndefined();
    expect(githubAppBanner(env, app, 'http://localhost:3002', root)).toBe('id 12 (from custom.env)');
  });
});
