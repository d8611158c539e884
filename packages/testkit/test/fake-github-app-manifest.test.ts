import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createHmac, createPrivateKey } from 'node:crypto';
import http from 'node:http';
import { Octokit } from '@octokit/rest';
import { startFakeGithub, type FakeGithub } from '../src/fake-github.js';

/*
 * Registering a GitHub App from a manifest against the fake, driven as a browser and a server would: plain HTTP for the
 * browser's form posts, and the unchanged @octokit/rest client for the conversion, so whatever it accepts here it
 * accepts from GitHub.
 */

const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const MANIFEST = {
  name: 'ephemera-test',
  url: 'http://ephemera.test',
  hook_attributes: { url: 'http://ephemera.test/api/v1/webhooks/github' },
  redirect_url: 'http://ephemera.test/setup/callback',
  callback_urls: ['http://ephemera.test/auth/github/callback'],
  public: false,
  default_permissions: { pull_requests: 'write', checks: 'read' },
  default_events: ['pull_request', 'check_run'],
};

let fake: FakeGithub;
let octokit: Octokit;

beforeEach(async () => {
  fake = await startFakeGithub();
  fake.setOAuthUser('mona');
  octokit = new Octokit({ baseUrl: fake.url, log: quiet });
});

afterEach(async () => {
  await fake.close();
});

/** The browser posting a form: the page it gets, or where it is sent. */
async function post(path: string, fields: Record<string, string>) {
  const res = await fetch(`${fake.url}${path}`, { method: 'POST', body: new URLSearchParams(fields), redirect: 'manual' });
  const location = res.headers.get('location');
  return { status: res.status, location: location ? new URL(location) : null, text: await res.text() };
}

/** Posts the manifest and presses "Create GitHub App": where GitHub sends the browser back. */
async function register(manifest: Record<string, unknown> = MANIFEST, path = '/settings/apps/new?state=st-1', name?: string) {
  const form = await post(path, { manifest: JSON.stringify(manifest) });
  expect(form.status).toBe(200);
  const action = /action="([^"]+)"/.exec(form.text)![1]!;
  return post(action, name === undefined ? {} : { name });
}

const convert = (code: string) => octokit.rest.apps.createFromManifest({ code });

describe('the App manifest flow of the fake GitHub', () => {
  it('shows the posted manifest, registers the App, and sends the browser back with a code and the state', async () => {
    const form = await post('/settings/apps/new?state=st-1', { manifest: JSON.stringify(MANIFEST) });
    expect(form.text).toContain('&quot;pull_requests&quot;: &quot;write&quot;');
    expect(form.text).toContain('Create GitHub App for mona');
    const back = await post(/action="([^"]+)"/.exec(form.text)![1]!, { name: 'ephemera-renamed' });
    expect(back.status).toBe(302);
    expect(`${back.location!.origin}${back.location!.pathname}`).toBe(MANIFEST.redirect_url);
    expect(back.location!.searchParams.get('state')).toBe('st-1');

    const { status, data } = await convert(back.location!.searchParams.get('code')!);
    expect(status).toBe(201);
    expect(data).toMatchObject({ name: 'ephemera-renamed', slug: 'ephemera-renamed', owner: { login: 'mona', type: 'User' }, events: ['pull_request', 'check_run'] });
    expect(data.permissions).toEqual({ metadata: 'read', pull_requests: 'write', checks: 'read' });
    expect(createPrivateKey(data.pem).asymmetricKeyType).toBe('rsa');
    expect(data.webhook_secret).toBe(fake.apps[0]!.webhookSecret);
    expect(data.html_url).toBe(`${fake.url}/apps/ephemera-renamed`);
  });

  it('registers under an organization from its own page', async () => {
    const back = await register(MANIFEST, '/organizations/acme/settings/apps/new?state=st-2');
    const { data } = await convert(back.location!.searchParams.get('code')!);
    expect(data.owner).toMatchObject({ login: 'acme', type: 'Organization' });
  });

  it('trades a code once, and not after the hour (404 as GitHub answers)', async () => {
    const code = (await register()).location!.searchParams.get('code')!;
    await convert(code);
    await expect(convert(code)).rejects.toMatchObject({ status: 404 });
    await expect(convert('0123456789abcdef0123')).rejects.toMatchObject({ status: 404 });

    const late = (await register({ ...MANIFEST, name: 'ephemera-late' })).location!.searchParams.get('code')!;
    fake.advanceClock(3600_000);
    await expect(convert(late)).rejects.toMatchObject({ status: 404 });
  });

  it.each([
    ['without url', { ...MANIFEST, url: undefined }, /url is required/],
    ['with a hook without its url', { ...MANIFEST, hook_attributes: { active: true } }, /hook_attributes\.url is required/],
    ['asking for a permission GitHub does not have', { ...MANIFEST, default_permissions: { pull_request: 'write' } }, /pull_request is not a permission/],
    ['asking for an access the permission does not have', { ...MANIFEST, default_permissions: { ...MANIFEST.default_permissions, checks: 'admin' } }, /checks may be read or write/],
    ['subscribing to an event without its permission', { ...MANIFEST, default_events: ['pull_request', 'workflow_run'] }, /workflow_run is not supported by the requested permissions \(it needs actions\)/],
    ['subscribing to an event Apps cannot', { ...MANIFEST, default_events: ['installation'] }, /installation is not an event/],
    ['with a name over 34 characters', { ...MANIFEST, name: 'e'.repeat(35) }, /name must be/],
  ])('refuses a manifest %s, registering nothing', async (_case, manifest, problem) => {
    const form = await post('/settings/apps/new?state=st', { manifest: JSON.stringify(manifest) });
    expect(form.status).toBe(422);
    expect(form.text).toMatch(problem);
    expect(fake.apps).toHaveLength(0);
  });

  it('refuses a name already taken, and a form without a manifest', async () => {
    await register();
    const again = await register({ ...MANIFEST });
    expect(again.status).toBe(422);
    expect(again.text).toContain('already in use');
    expect((await post('/settings/apps/new', { other: 'x' })).status).toBe(422);
    expect(fake.apps).toHaveLength(1);
  });

  it('delivers to the registered App\'s webhook, signed with its secret', async () => {
    let received: { signature: string | null } | undefined;
    const hook = http.createServer((req, res) => {
      received = { signature: req.headers['x-hub-signature-256'] as string };
      req.resume();
      req.on('end', () => res.writeHead(202).end());
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`;
      await register({ ...MANIFEST, hook_attributes: { url } });
      const delivery = await fake.deliver('ping', { zen: 'Keep it logically awesome.' });
      expect(delivery.status_code).toBe(202);
      const body = JSON.stringify({ zen: 'Keep it logically awesome.' });
      expect(received?.signature).toBe(`sha256=${createHmac('sha256', fake.apps[0]!.webhookSecret).update(body).digest('hex')}`);
    } finally {
      await new Promise<void>((r) => hook.close(() => r()));
    }
  });
});
