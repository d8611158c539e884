/// <reference lib="dom" />
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Queue } from 'bullmq';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { applyGithubAppEnv, githubAppBanner, readEnvFile } from '@ephemera/devstack/github-app-env';
import { ENVIRONMENT_ACTIONS, GITHUB_APP_EVENTS, GITHUB_APP_PERMISSIONS, QUEUES, WEBHOOK_PATH, environmentActionJobSchema } from '@ephemera/schema';
import { freePort, repositoryIdOf, signedDelivery, startFakeGithub, webhookExample, type FakeGithub } from '@ephemera/testkit';
import { GithubSignIn } from '../../src/dashboard/github-sign-in.js';
import { OctokitManifestConversion } from '../../src/setup/manifest-conversion.js';
import { insertEnvironment, startQuery } from '../support.js';
import { findChromium } from './find-chromium.js';

/*
 * The dashboard in a real browser (Chromium through puppeteer-core): the sign-in form, the scripts the
 * Content-Security-Policy lets run, live updates through EventSource, the Destroy confirmation, and a phone's width;
 * and registering the GitHub App through /setup and the fake GitHub. The screenshots the README links are written here.
 */

type Q = Awaited<ReturnType<typeof startQuery>>;
const OPERATOR = { username: 'ops', password: 'a-long-operator-password' };
const SCREENSHOTS = fileURLToPath(new URL('../../../../docs/screenshots/', import.meta.url));


describe('the dashboard in Chromium', () => {
  let q: Q;
  let server: ReturnType<Q['app']['listen']>;
  let base: string;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    const executablePath = findChromium();
    q = await startQuery({ admin: OPERATOR, actionLimit: { limit: 10_000, windowMs: 60_000 } });
    server = q.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await puppeteer.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 800 });
    // A script the policy refused, or one that failed, shows up here.
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (err) => problems.push(String(err)));
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    await q?.close();
  });

  const rowStatus = (id: number) => page.$eval(`tr[data-id="${id}"] .status`, (el) => el.textContent);

  it('signs in, lists environments with a hostile title shown as text, and updates a row live', async () => {
    const now = Date.now();
    const web = await insertEnvironment(q.db, { repo: 'acme/web', pr: 42, status: 'READY', owner: 'mona', createdAt: new Date(now - 26 * 3600_000) });
    await q.db.environment.update({ where: { id: web.id }, data: { prTitle: 'Checkout: pay with saved cards', commitSha: '4be21d09c7f35a8e61b0d2c9f7a4e3b8c1d5f602', lastDeployedAt: new Date(now - 20 * 60_000) } });
    const api = await insertEnvironment(q.db, { repo: 'acme/api', pr: 17, status: 'PROVISIONING', owner: 'hubot', createdAt: new Date(now - 3 * 60_000) });
    await q.db.environment.update({ where: { id: api.id }, data: { prTitle: '<img src=x onerror=alert(1)> Rate limits per token', commitSha: 'e81f0a7c3b9d24f6a5c8e1b7d30f9a2c6e4b8d17' } });
    const failed = await insertEnvironment(q.db, { repo: 'acme/web', pr: 39, status: 'FAILED', owner: 'octocat', createdAt: new Date(now - 5 * 3600_000) });
    await q.db.environment.update({ where: { id: failed.id }, data: { prTitle: 'Upgrade to Node 22', commitSha: '07c3e9b1f4a8d26e5b0c7f1a9d3e8b4c2f6a0e95', errorMessage: 'container web: ImagePullBackOff', lastDeployedAt: new Date(now - 4 * 3600_000) } });

    await page.goto(`${base}/`);
    expect(new URL(page.url()).pathname).toBe('/sign-in');
    await page.type('input[name=username]', OPERATOR.username);
    await page.type('input[name=password]', OPERATOR.password);
    await Promise.all([page.waitForNavigation(), page.click('form.sign-in button[type=submit]')]);
    expect(new URL(page.url()).pathname).toBe('/');

    expect(await page.$$eval('tbody#environment-rows tr', (rows) => rows.length)).toBe(3);
    const title = await page.$eval(`tr[data-id="${api.id}"] a[href="/environments/${api.id}"]`, (a) => a.textContent);
    expect(title).toBe('<img src=x onerror=alert(1)> Rate limits per token');
    expect(await page.$$eval('img', (imgs) => imgs.length)).toBe(0);

    // Once the live view is connected, a change arrives within the time the dashboard promises.
    await page.waitForSelector('body[data-live-state="open"]', { timeout: 5_000 });
    await q.db.environment.update({ where: { id: api.id }, data: { status: 'READY', lastDeployedAt: new Date() } });
    const changed = Date.now();
    await page.waitForFunction((id: number) => document.querySelector(`tr[data-id="${id}"] .status`)?.textContent === 'READY', { timeout: 3_000 }, api.id);
    expect(Date.now() - changed).toBeLessThan(3_000);
    expect(await rowStatus(api.id)).toBe('READY');
    expect(problems).toEqual([]);

    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: `${SCREENSHOTS}dashboard-list.png`, fullPage: true });
  }, 30_000);

  it('shows an environment with its deployments, asks before destroying, and says what was queued', async () => {
    const env = await insertEnvironment(q.db, { repo: 'acme/shop', pr: 7, status: 'READY', owner: 'mona', createdAt: new Date(Date.now() - 2 * 3600_000) });
    await q.db.environment.update({ where: { id: env.id }, data: { prTitle: 'New product page', commitSha: 'c5d8a1f3e7b02c94d6f8a3e1b5c7d9f0a2e4b618', lastDeployedAt: new Date(Date.now() - 30 * 60_000) } });
    const started = new Date(Date.now() - 2 * 3600_000);
    await q.db.deployment.create({
      data: { environmentId: env.id, commitSha: '9f1c2e7'.padEnd(40, '0'), commitMessage: 'First version', status: 'FAILED', startedAt: started, completedAt: new Date(started.getTime() + 48_000), logs: 'pulling\nfailed\n', errorMessage: 'ImagePullBackOff' },
    });
    const latest = await q.db.deployment.create({
      data: { environmentId: env.id, commitSha: 'c5d8a1f3e7b02c94d6f8a3e1b5c7d9f0a2e4b618', commitMessage: 'Fix the image name', status: 'SUCCESS', startedAt: new Date(Date.now() - 31 * 60_000), completedAt: new Date(Date.now() - 30 * 60_000), logs: 'applied\nready\n' },
    });

    await page.goto(`${base}/environments/${env.id}`);
    expect(await page.$$eval('tbody#deployment-rows tr', (rows) => rows.length)).toBe(2);
    await page.screenshot({ path: `${SCREENSHOTS}dashboard-environment.png`, fullPage: true });

    // Dismissed: nothing is queued.
    const dismiss = (d: { dismiss(): Promise<void> }) => void d.dismiss();
    page.once('dialog', dismiss);
    await page.click('form[data-confirm] button');
    await new Promise((r) => setTimeout(r, 300));
    expect(await q.actionsQueue.count()).toBe(0);
    expect(new URL(page.url()).search).toBe('');

    page.once('dialog', (d) => void d.accept());
    await Promise.all([page.waitForNavigation(), page.click('form[data-confirm] button')]);
    expect(new URL(page.url()).search).toBe('?queued=destroy');
    expect(await page.$eval('.notice', (el) => el.textContent)).toContain('Destroy queued');
    const jobs = await q.actionsQueue.getJobs(['waiting']);
    expect(jobs.map((j) => j.name)).toEqual([ENVIRONMENT_ACTIONS.destroy]);

    // The page follows the environment as the worker moves it.
    await q.db.environment.update({ where: { id: env.id }, data: { status: 'DESTROYING', lastAction: 'destroy', lastActionBy: 'ops', lastActionKind: 'operator', lastActionAt: new Date() } });
    await page.waitForFunction(() => document.querySelector('#environment-summary .status')?.textContent === 'DESTROYING', { timeout: 3_000 });

    // A deployment's logs, streamed as they are written.
    await q.db.deployment.update({ where: { id: latest.id }, data: { status: 'IN_PROGRESS', completedAt: null } });
    await page.goto(`${base}/environments/${env.id}/deployments/${latest.id}`);
    expect(await page.$eval('#logs', (el) => el.textContent)).toBe('applied\nready\n');
    await page.waitForSelector('body[data-live-state="open"]', { timeout: 5_000 });
    await q.db.$executeRaw`UPDATE deployments SET logs = logs || ${'<b>tearing down</b>\n'} WHERE id = ${latest.id}`;
    await page.waitForFunction(() => document.querySelector('#logs')?.textContent?.endsWith('<b>tearing down</b>\n'), { timeout: 3_000 });
    expect(await page.$$eval('#logs b', (b) => b.length)).toBe(0);
    expect(problems).toEqual([]);
  }, 30_000);

  it('redeploys after the button is pressed, naming who asked, and the page shows what was queued', async () => {
    const env = await insertEnvironment(q.db, { repo: 'acme/cart', pr: 11, status: 'READY', owner: 'mona' });
    await q.actionsQueue.obliterate({ force: true });
    await page.goto(`${base}/environments/${env.id}`);
    await Promise.all([page.waitForNavigation(), page.click(`form[action="/api/v1/environments/${env.id}/redeploy"] button`)]);
    expect(new URL(page.url()).search).toBe('?queued=redeploy');
    expect(await page.$eval('.notice', (el) => el.textContent)).toContain('Redeploy queued');
    const [job] = await q.actionsQueue.getJobs(['waiting']);
    expect(job?.name).toBe(ENVIRONMENT_ACTIONS.redeploy);
    expect(environmentActionJobSchema.parse(job!.data)).toMatchObject({ environmentId: env.id, requestedBy: { kind: 'operator', login: OPERATOR.username } });
    expect(problems).toEqual([]);
  }, 30_000);

  it('fits a phone\'s width without scrolling sideways', async () => {
    await page.setViewport({ width: 390, height: 844, isMobile: true });
    await page.goto(`${base}/?show=all`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.setViewport({ width: 1280, height: 800 });
  }, 30_000);

  it('signs out: the session is gone and the pages ask for sign-in again', async () => {
    await page.goto(`${base}/`);
    await Promise.all([page.waitForNavigation(), page.click('form.sign-out button[type=submit]')]);
    await page.goto(`${base}/`);
    expect(new URL(page.url()).pathname).toBe('/sign-in');
    expect(await page.$('tbody#environment-rows')).toBeNull();
  }, 30_000);

  describe('signed in with GitHub (through the fake GitHub)', () => {
    let fake: FakeGithub;
    let githubServer: ReturnType<Q['app']['listen']>;
    let githubBase: string;
    let incognito: Awaited<ReturnType<Browser['createBrowserContext']>>;
    let person: Page;

    beforeAll(async () => {
      fake = await startFakeGithub();
      githubServer = (await (async () => {
        // The callback must be this server's own address, which is known once it listens.
        const probe = q.app.listen(0, '127.0.0.1');
        await new Promise((r) => probe.once('listening', r));
        const port = (probe.address() as AddressInfo).port;
        await new Promise<void>((r) => probe.close(() => r()));
        githubBase = `http://127.0.0.1:${port}`;
        const callbackUrl = `${githubBase}/auth/github/callback`;
        fake.setOAuthApp({ clientId: 'Iv23liBrowser', clientSecret: 'browser-secret', callbackUrl });
        const app = q.appWith({
          admin: OPERATOR,
          dashboard: {
            githubUrl: fake.url,
            publicUrl: githubBase,
            // Short, so that access GitHub withdraws shows within the test.
            accessTtlMs: 500,
            github: new GithubSignIn({ clientId: 'Iv23liBrowser', clientSecret: 'browser-secret', webUrl: fake.url, apiUrl: fake.url, callbackUrl, timeoutMs: 5_000 }),
          },
        });
        const server = app.listen(port, '127.0.0.1');
        await new Promise((r) => server.once('listening', r));
        return server;
      })());
      fake.setInstallationRepositories(77, ['octo/site', 'octo/docs', 'octo/private']);
      fake.setUserAccess('hubot', { repositories: { 'octo/site': 'write', 'octo/docs': 'read' } });
      fake.setOAuthUser('hubot');
      incognito = await browser.createBrowserContext();
      person = await incognito.newPage();
      await person.setViewport({ width: 1280, height: 800 });
    }, 60_000);

    afterAll(async () => {
      await incognito?.close();
      await new Promise<void>((r) => (githubServer ? githubServer.close(() => r()) : r()));
      await fake?.close();
    });

    it('sees only the repositories GitHub says it reaches, with buttons only where it may write', async () => {
      const site = await insertEnvironment(q.db, { repo: 'octo/site', pr: 1, status: 'READY', repositoryId: repositoryIdOf('octo/site') });
      const docs = await insertEnvironment(q.db, { repo: 'octo/docs', pr: 2, status: 'READY', repositoryId: repositoryIdOf('octo/docs') });
      const hidden = await insertEnvironment(q.db, { repo: 'octo/private', pr: 3, status: 'READY', repositoryId: repositoryIdOf('octo/private') });

      await person.goto(`${githubBase}/sign-in`);
      // Through GitHub's authorize page (the fake signs the chosen person in at once) and back to the callback.
      await Promise.all([person.waitForNavigation({ waitUntil: 'domcontentloaded' }), person.click('a[href="/auth/github"]')]);
      expect(new URL(person.url()).pathname).toBe('/');
      expect(await person.$eval('form.sign-out span', (el) => el.textContent)).toBe('hubot');
      const ids = await person.$$eval('tbody#environment-rows tr', (rows) => rows.map((r) => Number(r.getAttribute('data-id'))));
      expect(ids).toContain(site.id);
      expect(ids).toContain(docs.id);
      expect(ids).not.toContain(hidden.id);

      await person.goto(`${githubBase}/environments/${docs.id}`);
      expect(await person.$$('form[action$="/redeploy"], form[action$="/destroy"]')).toHaveLength(0);
      await person.goto(`${githubBase}/environments/${site.id}`);
      expect(await person.$$('form[action$="/redeploy"], form[action$="/destroy"]')).toHaveLength(2);
      const refused = await person.goto(`${githubBase}/environments/${hidden.id}`);
      expect(refused?.status()).toBe(404);
      expect(problems).toEqual([]);
    }, 60_000);

    it('leaves a page whose repository GitHub stops showing the person: the live view ends and the page says it is not found', async () => {
      const site = await insertEnvironment(q.db, { repo: 'octo/site', pr: 5, status: 'READY', repositoryId: repositoryIdOf('octo/site') });
      await person.goto(`${githubBase}/environments/${site.id}`);
      await person.waitForSelector('body[data-live-state="open"]', { timeout: 5_000 });
      fake.setUserAccess('hubot', { repositories: { 'octo/docs': 'read' } });
      try {
        await person.waitForFunction(() => document.querySelector('main h1')?.textContent === 'Not found', { timeout: 5_000 });
        expect(await person.$('#environment-summary')).toBeNull();
      } finally {
        fake.setUserAccess('hubot', { repositories: { 'octo/site': 'write', 'octo/docs': 'read' } });
      }
      // The 404 the reload got is the only error the page logged.
      expect(problems.filter((p) => !/404/.test(p))).toEqual([]);
      problems.length = 0;
    }, 60_000);
  });

  describe('registering the GitHub App (/setup, through the fake GitHub)', () => {
    let fake: FakeGithub;
    let setupServer: ReturnType<Q['app']['listen']>;
    let setupBase: string;
    let root: string;
    let envFile: string;
    let ingestPort: number;
    let ingest: ChildProcess | undefined;
    let incognito: Awaited<ReturnType<Browser['createBrowserContext']>>;
    let visitor: Page;
    const visitorProblems: string[] = [];

    beforeAll(async () => {
      fake = await startFakeGithub();
      fake.setOAuthUser('mona');
      root = mkdtempSync(path.join(tmpdir(), 'ephemera-setup-browser-'));
      envFile = path.join(root, '.ephemera', 'github-app.env');
      ingestPort = await freePort();
      // PUBLIC_URL is this server's own address, known before it listens.
      const port = await freePort();
      setupBase = `http://127.0.0.1:${port}`;
      const app = q.appWith({
        admin: OPERATOR,
        setup: {
          githubUrl: fake.url,
          conversion: new OctokitManifestConversion({ apiUrl: fake.url, timeoutMs: 5_000 }),
          envFile,
          publicUrl: setupBase,
          // The App's webhook: a smee.io channel forwards to ingest; here GitHub delivers to ingest itself.
          smeeUrl: `http://127.0.0.1:${ingestPort}${WEBHOOK_PATH}`,
          production: false,
          cookieSecret: 'a-test-cookie-secret',
          defaultName: 'ephemera-browser',
        },
      });
      setupServer = app.listen(port, '127.0.0.1');
      await new Promise((r) => setupServer.once('listening', r));
      incognito = await browser.createBrowserContext();
      visitor = await incognito.newPage();
      // A form post the policy refused shows up here.
      visitor.on('console', (m) => {
        if (m.type() === 'error') visitorProblems.push(`${m.text()} ${m.location().url ?? ''}`);
      });
      visitor.on('pageerror', (err) => visitorProblems.push(String(err)));
    }, 60_000);

    afterAll(async () => {
      ingest?.kill('SIGKILL');
      await incognito?.close();
      await new Promise<void>((r) => (setupServer ? setupServer.close(() => r()) : r()));
      await fake?.close();
      if (root) rmSync(root, { recursive: true, force: true });
    });

    it('goes from /setup through GitHub and back, and a second start uses the saved App; a wrong state or a used code changes nothing', async () => {
      // No App yet: npm start's banner and the dashboard's front page offer setup.
      expect(githubAppBanner({}, applyGithubAppEnv({ GITHUB_APP_ENV_FILE: envFile }, root), setupBase, root)).toBe(`Register the GitHub App: ${setupBase}/setup`);
      await visitor.goto(`${setupBase}/sign-in`);
      await Promise.all([visitor.waitForNavigation(), visitor.click('a[href="/setup"]')]);
      expect(await visitor.$eval('#webhook-url', (el) => el.textContent)).toBe(`http://127.0.0.1:${ingestPort}${WEBHOOK_PATH}`);

      // GitHub's page shows the manifest it received; its button registers the App and sends the browser back.
      await Promise.all([visitor.waitForNavigation(), visitor.click('form.setup-create button')]);
      expect(new URL(visitor.url()).origin).toBe(fake.url);
      const received = JSON.parse((await visitor.$eval('#manifest', (el) => el.textContent))!) as Record<string, unknown>;
      expect(received).toMatchObject({ name: 'ephemera-browser', public: false, default_permissions: GITHUB_APP_PERMISSIONS, default_events: [...GITHUB_APP_EVENTS] });
      await Promise.all([visitor.waitForNavigation(), visitor.click('button[type=submit]')]);
      const callback = new URL(visitor.url());
      expect(callback.pathname).toBe('/setup/callback');
      expect(await visitor.$eval('main h1', (el) => el.textContent)).toBe('GitHub App registered');
      const registered = fake.apps[0]!;
      expect(await visitor.$eval('#install', (a) => a.getAttribute('href'))).toBe(`${registered.htmlUrl}/installations/new`);
      expect(visitorProblems).toEqual([]);

      expect(statSync(envFile).mode & 0o777).toBe(0o600);
      expect(readEnvFile(envFile)).toEqual({
        GITHUB_APP_ID: String(registered.id),
        GITHUB_APP_PRIVATE_KEY: registered.pem.trim().replace(/\n/g, '\\n'),
        GITHUB_WEBHOOK_SECRET: registered.webhookSecret,
        GITHUB_CLIENT_ID: registered.clientId,
        GITHUB_CLIENT_SECRET: registered.clientSecret,
      });

      // A second start: npm start takes the App from the file and stops offering setup; ingest, started as npm start
      // starts it, boots meanwhile.
      const env: NodeJS.ProcessEnv = { GITHUB_APP_ENV_FILE: envFile };
      const second = applyGithubAppEnv(env, root);
      expect(githubAppBanner(env, second, setupBase, root)).toBe(`id ${registered.id} (from .ephemera/github-app.env)`);
      const prefix = `setup-${ingestPort}`;
      ingest = spawn(process.execPath, [createRequire(import.meta.url).resolve('@ephemera/ingest')], {
        env: { PATH: process.env.PATH, ...env, REDIS_URL: process.env.REDIS_URL, QUEUE_SIGNING_KEY: q.signingKey, QUEUE_PREFIX: prefix, INGEST_PORT: String(ingestPort), LOG_LEVEL: 'warn' },
        stdio: 'ignore',
      });

      // With the file away (so /setup serves again), neither a wrong state nor the used code saves anything.
      const aside = `${envFile}.aside`;
      renameSync(envFile, aside);
      try {
        const conversions = () => fake.requests.filter((r) => r.path.startsWith('/app-manifests/')).length;
        const converted = conversions();
        const code = callback.searchParams.get('code')!;
        await visitor.goto(`${setupBase}/setup`);
        const wrong = await visitor.goto(`${setupBase}/setup/callback?code=${code}&state=not-this-browsers`);
        expect(wrong?.status()).toBe(400);
        expect(conversions()).toBe(converted);
        await visitor.goto(`${setupBase}/setup`);
        const state = new URL(await visitor.$eval('form.setup-create', (f) => (f as HTMLFormElement).action)).searchParams.get('state')!;
        const used = await visitor.goto(`${setupBase}/setup/callback?code=${code}&state=${state}`);
        expect(used?.status()).toBe(400);
        expect(await visitor.$eval('main h1', (el) => el.textContent)).toBe('GitHub did not accept the code');
        expect(existsSync(envFile)).toBe(false);
      } finally {
        renameSync(aside, envFile);
      }

      // The App's deliveries are accepted with its new secret, and no longer with the development one.
      const ingestUrl = `http://127.0.0.1:${ingestPort}`;
      const deadline = Date.now() + 20_000;
      while (!(await fetch(`${ingestUrl}/readyz`).then((r) => r.ok, () => false))) {
        if (Date.now() > deadline) throw new Error('ingest did not become ready');
        await new Promise((r) => setTimeout(r, 100));
      }
      const payload = webhookExample('pull_request', 'opened', { withInstallation: true });
      expect((await fake.deliver('pull_request', payload)).status_code).toBe(202);
      const forged = await signedDelivery('ephemera-development-secret', 'pull_request', payload);
      expect((await fetch(`${ingestUrl}${WEBHOOK_PATH}`, { method: 'POST', headers: forged.headers, body: forged.body })).status).toBe(401);
      const queued = new Queue(QUEUES.webhooks, { connection: q.redis, prefix });
      expect(await queued.count()).toBe(1);
      await queued.obliterate({ force: true });
      await queued.close();

      await visitor.goto(`${setupBase}/sign-in`);
      expect(await visitor.$('a[href="/setup"]')).toBeNull();
      expect((await visitor.goto(`${setupBase}/setup`))?.status()).toBe(404);
    }, 60_000);
  });
});
