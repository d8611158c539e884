import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { deleteToken, exchangeWebFlowCode, getWebFlowAuthorizationUrl, refreshToken } from '@octokit/oauth-methods';
import { Octokit } from '@octokit/rest';
import { accountIdOf, startFakeGithub, type FakeGithub } from '../src/fake-github.js';
import { repositoryIdOf } from '../src/pull-request-payload.js';

/*
 * "Sign in with GitHub" against the fake, driven as a dashboard would: plain HTTP for the browser's side, and the
 * unchanged Octokit clients (@octokit/oauth-methods for the token endpoint, @octokit/rest for the API), so whatever
 * they accept here they accept from GitHub.
 */

const APP = { clientId: 'Iv23liFakeClient01', clientSecret: 'fake-client-secret', callbackUrl: 'http://dashboard.test/auth/github/callback' };
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

let fake: FakeGithub;
let octokit: Octokit;

beforeEach(async () => {
  fake = await startFakeGithub();
  fake.setOAuthApp(APP);
  octokit = new Octokit({ baseUrl: fake.url, log: quiet });
});

afterEach(async () => {
  await fake.close();
});

/** The browser opening the authorize page: where GitHub sends it next, or the page it shows. */
async function authorize(query: Record<string, string>): Promise<{ status: number; location: URL | null; text: string }> {
  const res = await fetch(`${fake.url}/login/oauth/authorize?${new URLSearchParams(query)}`, { redirect: 'manual' });
  const location = res.headers.get('location');
  return { status: res.status, location: location ? new URL(location) : null, text: await res.text() };
}

/** A fresh code for `login`, as the callback receives it. */
async function codeFor(login: string, redirectUri = APP.callbackUrl): Promise<string> {
  fake.setOAuthUser(login);
  const { location } = await authorize({ client_id: APP.clientId, redirect_uri: redirectUri, state: 'st' });
  const code = location?.searchParams.get('code');
  if (!code) throw new Error(`no code in ${location}`);
  return code;
}

/** The token endpoint asked for JSON, as a server-side client does. */
async function exchange(params: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${fake.url}/login/oauth/access_token`, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json' },
    body: JSON.stringify(params),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function tokenFor(login: string): Promise<string> {
  const { body } = await exchange({ client_id: APP.clientId, client_secret: APP.clientSecret, code: await codeFor(login) });
  return String(body.access_token);
}

const userOctokit = (token: string) => new Octokit({ auth: token, baseUrl: fake.url, log: quiet });

/** The status and body of a call Octokit rejects. */
async function rejection(call: Promise<unknown>): Promise<{ status: number; data: unknown; message: string }> {
  try {
    await call;
  } catch (err) {
    const e = err as { status?: number; response?: { data?: unknown }; message: string };
    if (typeof e.status !== 'number') throw err;
    return { status: e.status, data: e.response?.data, message: e.message };
  }
  throw new Error('the call succeeded');
}

describe('web application flow', () => {
  it('redirects with a one-time code and the state, answers form text unless JSON is asked for, and /user knows the token', async () => {
    fake.setOAuthUser('Octo-Cat', { name: 'Mona Octocat', email: 'mona@example.test' });
    const page = await authorize({ client_id: APP.clientId, redirect_uri: APP.callbackUrl, state: 'a b&c', scope: 'read:user' });
    expect(page.status).toBe(302);
    expect(`${page.location!.origin}${page.location!.pathname}`).toBe(APP.callbackUrl);
    const code = page.location!.searchParams.get('code')!;
    expect(code).toMatch(/^[0-9a-f]{20}$/);
    expect(page.location!.searchParams.get('state')).toBe('a b&c');

    const res = await fetch(`${fake.url}/login/oauth/access_token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: APP.clientId, client_secret: APP.clientSecret, code, redirect_uri: APP.callbackUrl }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-www-form-urlencoded/);
    const answer = new URLSearchParams(await res.text());
    expect(Object.fromEntries(answer)).toEqual({
      access_token: expect.stringMatching(/^ghu_[A-Za-z0-9]{36}$/),
      expires_in: '28800',
      refresh_token: expect.stringMatching(/^ghr_[A-Za-z0-9]{76}$/),
      refresh_token_expires_in: '15811200',
      scope: '',
      token_type: 'bearer',
    });
    const token = answer.get('access_token')!;

    for (const scheme of ['Bearer', 'token']) {
      const user = await fetch(`${fake.url}/user`, { headers: { authorization: `${scheme} ${token}` } });
      expect(user.status).toBe(200);
      expect(await user.json()).toMatchObject({
        login: 'Octo-Cat',
        id: accountIdOf('octo-cat'),
        avatar_url: expect.stringMatching(/^https:\/\//),
        name: 'Mona Octocat',
        email: 'mona@example.test',
        type: 'User',
        site_admin: false,
      });
    }

    // Recorded like every request, the client secret masked; the code shows what was exchanged.
    const recorded = fake.requests.find((r) => r.path === '/login/oauth/access_token')!;
    expect(recorded).toMatchObject({ method: 'POST', body: { client_id: APP.clientId, client_secret: '[masked]', code } });
    expect(JSON.stringify(fake.requests)).not.toContain(APP.clientSecret);
    expect(fake.requests.find((r) => r.path === '/login/oauth/authorize')).toMatchObject({ method: 'GET', body: null });
  });

  it('works with the real clients: oauth-methods builds the authorize URL and trades the code, Octokit reads user, installations and repositories', async () => {
    fake.setInstallation(7, 'active', { login: 'acme' });
    fake.setInstallationRepositories(7, ['acme/web', 'acme/api', 'acme/private-ops']);
    fake.setInstallationRepositories(8, ['globex/site']);
    fake.setUserAccess('octocat', { repositories: { 'acme/web': 'admin', 'acme/api': 'triage', 'elsewhere/thing': 'write' } });
    fake.setOAuthUser('octocat');

    const { url } = getWebFlowAuthorizationUrl({ clientType: 'github-app', clientId: APP.clientId, redirectUrl: APP.callbackUrl, state: 'xyz', request: octokit.request });
    expect(url.startsWith(`${fake.url}/login/oauth/authorize?`)).toBe(true);
    const { location } = await authorize(Object.fromEntries(new URL(url).searchParams));
    expect(location!.searchParams.get('state')).toBe('xyz');

    const before = Date.now();
    const { authentication } = await exchangeWebFlowCode({
      clientType: 'github-app',
      clientId: APP.clientId,
      clientSecret: APP.clientSecret,
      code: location!.searchParams.get('code')!,
      redirectUrl: APP.callbackUrl,
      request: octokit.request,
    });
    expect(authentication.token).toMatch(/^ghu_/);
    expect('refreshToken' in authentication && authentication.refreshToken).toMatch(/^ghr_/);
    const expiresAt = 'expiresAt' in authentication ? Date.parse(authentication.expiresAt) : NaN;
    expect(expiresAt).toBeGreaterThanOrEqual(before - 1000 + 8 * 3600_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 1000 + 8 * 3600_000);

    const user = userOctokit(authentication.token);
    const me = await user.rest.users.getAuthenticated();
    expect(me.data).toMatchObject({ login: 'octocat', id: accountIdOf('octocat'), type: 'User' });

    const installations = await user.rest.apps.listInstallationsForAuthenticatedUser();
    expect(installations.data.total_count).toBe(1);
    expect(installations.data.installations).toEqual([
      expect.objectContaining({
        id: 7,
        account: expect.objectContaining({ login: 'acme', id: accountIdOf('acme'), type: 'Organization' }),
        app_id: 42,
        target_type: 'Organization',
        permissions: expect.objectContaining({ pull_requests: 'write' }),
        suspended_at: null,
      }),
    ]);
    // The App's own view of the installation is the same object.
    const asApp = await fetch(`${fake.url}/app/installations/7`, { headers: { authorization: 'Bearer header.payload.signature' } });
    expect(await asApp.json()).toEqual(installations.data.installations[0]);

    const repos = await user.rest.apps.listInstallationReposForAuthenticatedUser({ installation_id: 7 });
    expect(repos.data.total_count).toBe(2);
    expect(repos.data.repository_selection).toBe('selected');
    expect(repos.data.repositories.map((r) => [r.id, r.name, r.full_name, r.private, r.owner.login, r.permissions])).toEqual([
      [repositoryIdOf('acme/web'), 'web', 'acme/web', false, 'acme', { admin: true, maintain: true, push: true, triage: true, pull: true }],
      [repositoryIdOf('acme/api'), 'api', 'acme/api', false, 'acme', { admin: false, maintain: false, push: false, triage: true, pull: true }],
    ]);

    // The installation token's list and the collaborator permission agree with what the user's token sees.
    const viaInstallation = await fetch(`${fake.url}/installation/repositories`, { headers: { authorization: 'token ghs_fake7' } });
    const installed = (await viaInstallation.json()) as { repositories: Array<{ id: number; full_name: string }> };
    expect(installed.repositories.map((r) => [r.full_name, r.id])).toEqual(['acme/web', 'acme/api', 'acme/private-ops'].map((f) => [f, repositoryIdOf(f)]));
    const level = await fetch(`${fake.url}/repos/acme/api/collaborators/octocat/permission`, { headers: { authorization: 'token ghs_fake7' } });
    expect(await level.json()).toMatchObject({ permission: 'read', role_name: 'triage', user: { login: 'octocat', id: accountIdOf('octocat'), permissions: repos.data.repositories[1]!.permissions } });
    // Asked with the person's own token, GitHub answers only someone with push access.
    const own = await rejection(user.rest.repos.getCollaboratorPermissionLevel({ owner: 'acme', repo: 'api', username: 'octocat' }));
    expect(own).toMatchObject({ status: 403, data: { message: 'Must have push access to view collaborator permission.', documentation_url: expect.stringContaining('#get-repository-permissions-for-a-user') } });

    // A role changed through setPermission shows in both at once.
    fake.setPermission('acme/api', 'octocat', 'maintain');
    const after = await user.rest.apps.listInstallationReposForAuthenticatedUser({ installation_id: 7 });
    expect(after.data.repositories[1]!.permissions).toEqual({ admin: false, maintain: true, push: true, triage: true, pull: true });
    expect((await user.rest.repos.getCollaboratorPermissionLevel({ owner: 'acme', repo: 'api', username: 'octocat' })).data).toMatchObject({ permission: 'write', role_name: 'maintain' });
  });

  it('takes a code once, and only for ten minutes of the fake clock', async () => {
    const code = await codeFor('octocat');
    const first = await exchange({ client_id: APP.clientId, client_secret: APP.clientSecret, code });
    expect(first.body).toMatchObject({ access_token: expect.stringMatching(/^ghu_/), token_type: 'bearer', scope: '' });
    const again = await exchange({ client_id: APP.clientId, client_secret: APP.clientSecret, code });
    expect(again).toEqual({
      status: 200,
      body: {
        error: 'bad_verification_code',
        error_description: 'The code passed is incorrect or expired.',
        error_uri: 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code',
      },
    });
    const reused = await rejection(exchangeWebFlowCode({ clientType: 'github-app', clientId: APP.clientId, clientSecret: APP.clientSecret, code, request: octokit.request }));
    expect(reused.message).toContain('bad_verification_code');

    const stale = await codeFor('octocat');
    const fresh = await codeFor('octocat');
    fake.advanceClock(9 * 60_000);
    expect((await exchange({ client_id: APP.clientId, client_secret: APP.clientSecret, code: fresh })).body.access_token).toMatch(/^ghu_/);
    fake.advanceClock(60_000);
    expect((await exchange({ client_id: APP.clientId, client_secret: APP.clientSecret, code: stale })).body.error).toBe('bad_verification_code');
    expect((await exchange({ client_id: APP.clientId, client_secret: APP.clientSecret, code: 'not-a-code' })).body.error).toBe('bad_verification_code');
  });

  it('refuses a wrong client secret or client id with incorrect_client_credentials, leaving the code usable', async () => {
    const code = await codeFor('octocat');
    const wrong = await exchange({ client_id: APP.clientId, client_secret: 'guessed', code });
    expect(wrong).toEqual({
      status: 200,
      body: {
        error: 'incorrect_client_credentials',
        error_description: 'The client_id and/or client_secret passed are incorrect.',
        error_uri: 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#incorrect-client-credentials',
      },
    });
    expect((await exchange({ client_id: 'Iv23liSomeoneElse', client_secret: APP.clientSecret, code })).body.error).toBe('incorrect_client_credentials');
    expect((await exchange({ client_id: APP.clientId, client_secret: APP.clientSecret, code })).body.access_token).toMatch(/^ghu_/);
  });

  it('sends a browser with an unregistered redirect_uri back to the registered callback with redirect_uri_mismatch, and checks it again at the token endpoint', async () => {
    fake.setOAuthUser('octocat');
    const callback = new URL(APP.callbackUrl);
    for (const bad of ['http://evil.test/auth/github/callback', `${APP.callbackUrl}-evil`, 'http://dashboard.test:8080/auth/github/callback', 'https://dashboard.test/auth/github/callback', 'http://dashboard.test/auth']) {
      const page = await authorize({ client_id: APP.clientId, redirect_uri: bad, state: 'st' });
      expect(page.status).toBe(302);
      expect(`${page.location!.origin}${page.location!.pathname}`).toBe(APP.callbackUrl);
      expect(Object.fromEntries(page.location!.searchParams)).toEqual({
        error: 'redirect_uri_mismatch',
        error_description: 'The redirect_uri MUST match the registered callback URL for this application.',
        error_uri: expect.stringContaining('#redirect-uri-mismatch'),
        state: 'st',
      });
    }
    // A path below the callback is accepted, and no redirect_uri means the callback itself.
    const below = await authorize({ client_id: APP.clientId, redirect_uri: `${APP.callbackUrl}/team?next=%2Fenvs`, state: 'st' });
    expect(below.location!.pathname).toBe(`${callback.pathname}/team`);
    expect(below.location!.searchParams.get('next')).toBe('/envs');
    expect(below.location!.searchParams.get('code')).toMatch(/^[0-9a-f]{20}$/);
    const none = await authorize({ client_id: APP.clientId });
    expect(`${none.location!.origin}${none.location!.pathname}`).toBe(APP.callbackUrl);
    expect(none.location!.searchParams.has('state')).toBe(false);

    const code = await codeFor('octocat');
    const mismatch = await exchange({ client_id: APP.clientId, client_secret: APP.clientSecret, code, redirect_uri: `${APP.callbackUrl}/other` });
    expect(mismatch.body).toEqual({
      error: 'redirect_uri_mismatch',
      error_description: 'The redirect_uri MUST match the registered callback URL for this application.',
      error_uri: 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#redirect-uri-mismatch2',
    });
    expect((await exchange({ client_id: APP.clientId, client_secret: APP.clientSecret, code, redirect_uri: APP.callbackUrl })).body.access_token).toMatch(/^ghu_/);
  });

  it('shows an error page for an unknown client_id, and when nobody is signed in', async () => {
    fake.setOAuthUser('octocat');
    const unknown = await authorize({ client_id: 'Iv23liUnknown', redirect_uri: APP.callbackUrl });
    expect(unknown.status).toBe(404);
    expect(unknown.location).toBeNull();
    expect(unknown.text).toContain('client_id');
    fake.setOAuthUser(null);
    const nobody = await authorize({ client_id: APP.clientId, redirect_uri: APP.callbackUrl });
    expect(nobody.status).toBe(400);
    expect(nobody.text).toContain('setOAuthUser');
  });

  it('answers without expires_in and refresh_token for an App that opted out of expiring tokens', async () => {
    fake.setOAuthApp({ ...APP, expiringTokens: false });
    const { body } = await exchange({ client_id: APP.clientId, client_secret: APP.clientSecret, code: await codeFor('octocat') });
    expect(body).toEqual({ access_token: expect.stringMatching(/^ghu_[A-Za-z0-9]{36}$/), token_type: 'bearer', scope: '' });
    fake.advanceClock(30 * 24 * 3600_000);
    expect((await userOctokit(String(body.access_token)).rest.users.getAuthenticated()).data.login).toBe('octocat');
  });
});

describe('PKCE', () => {
  const verifier = () => randomBytes(32).toString('base64url');
  const challengeOf = (v: string) => createHash('sha256').update(v).digest('base64url');

  it('keeps an S256 code_challenge with the code and trades the code only with its code_verifier', async () => {
    fake.setOAuthUser('octocat');
    const v = verifier();
    const page = await authorize({ client_id: APP.clientId, redirect_uri: APP.callbackUrl, state: 'st', code_challenge: challengeOf(v), code_challenge_method: 'S256' });
    expect(page.status).toBe(302);
    const code = page.location!.searchParams.get('code')!;
    const base = { client_id: APP.clientId, client_secret: APP.clientSecret, code, redirect_uri: APP.callbackUrl };
    // Without the verifier, or with another one (an attacker holding only the code): GitHub's bad-code answer.
    for (const attempt of [base, { ...base, code_verifier: verifier() }, { ...base, code_verifier: 'short' }]) {
      expect((await exchange(attempt)).body).toEqual({
        error: 'bad_verification_code',
        error_description: 'The code passed is incorrect or expired.',
        error_uri: 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code',
      });
    }
    // The code is still good for the client that holds the verifier, once.
    const traded = await exchange({ ...base, code_verifier: v });
    expect(traded.body.access_token).toMatch(/^ghu_/);
    expect((await exchange({ ...base, code_verifier: v })).body.error).toBe('bad_verification_code');
    // A code issued without a challenge needs no verifier, as GitHub does not require PKCE.
    expect((await exchange({ client_id: APP.clientId, client_secret: APP.clientSecret, code: await codeFor('octocat') })).body.access_token).toMatch(/^ghu_/);
  });

  it('accepts only the S256 method, and a challenge of its form', async () => {
    fake.setOAuthUser('octocat');
    const v = verifier();
    const queries: Array<Record<string, string>> = [
      { code_challenge: v, code_challenge_method: 'plain' },
      { code_challenge: challengeOf(v) },
      { code_challenge_method: 'S256' },
      { code_challenge: 'not-a-digest', code_challenge_method: 'S256' },
    ];
    for (const query of queries) {
      const page = await authorize({ client_id: APP.clientId, redirect_uri: APP.callbackUrl, state: 'st', ...query });
      expect({ query, status: page.status, location: page.location }).toEqual({ query, status: 400, location: null });
      expect(page.text).toMatch(/code_challenge/);
    }
  });
});

describe('user access token', () => {
  it('is revoked with the App\'s credentials (oauth-methods\' deleteToken: DELETE /applications/{client_id}/token), and works no more', async () => {
    const token = await tokenFor('octocat');
    expect((await userOctokit(token).rest.users.getAuthenticated()).data.login).toBe('octocat');
    const call = (authorization: string | null, body: unknown, clientId = APP.clientId) =>
      fetch(`${fake.url}/applications/${clientId}/token`, {
        method: 'DELETE',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify(body),
      });
    const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
    // Refused, and the token still works: no credentials, wrong ones, another App's client id, no token.
    expect((await call(null, { access_token: token })).status).toBe(401);
    expect((await call(basic(APP.clientId, 'guessed'), { access_token: token })).status).toBe(404);
    expect((await call(basic('Iv23liSomeoneElse', APP.clientSecret), { access_token: token }, 'Iv23liSomeoneElse')).status).toBe(404);
    const missing = await call(basic(APP.clientId, APP.clientSecret), {});
    expect(missing.status).toBe(422);
    expect(await missing.json()).toMatchObject({ message: 'Validation Failed' });
    expect((await userOctokit(token).rest.users.getAuthenticated()).status).toBe(200);

    const revoked = await deleteToken({ clientType: 'github-app', clientId: APP.clientId, clientSecret: APP.clientSecret, token, request: octokit.request });
    expect(revoked.status).toBe(204);
    expect((await rejection(userOctokit(token).rest.users.getAuthenticated())).status).toBe(401);
    // Gone: a second revocation finds nothing.
    expect((await call(basic(APP.clientId, APP.clientSecret), { access_token: token })).status).toBe(404);
    // Recorded with the token masked, like the other secrets in bodies.
    const recorded = fake.requests.filter((r) => r.method === 'DELETE').at(-1)!;
    expect(recorded).toMatchObject({ path: `/applications/${APP.clientId}/token`, body: { access_token: '[masked]' }, authorization: basic(APP.clientId, APP.clientSecret) });
    expect(JSON.stringify(fake.requests.filter((r) => r.method === 'DELETE'))).not.toContain(token);
  });

  it('reads a collaborator\'s permission only on repositories the App\'s installations reach, and only with push access', async () => {
    fake.setInstallationRepositories(7, ['acme/web', 'acme/api']);
    fake.setUserAccess('octocat', { repositories: { 'acme/web': 'write', 'acme/api': 'read', 'elsewhere/thing': 'admin' } });
    const user = userOctokit(await tokenFor('octocat'));
    const ask = (owner: string, repo: string, username = 'octocat') => user.rest.repos.getCollaboratorPermissionLevel({ owner, repo, username });
    expect((await ask('acme', 'web')).data).toMatchObject({ permission: 'write', role_name: 'write' });
    fake.setUserAccess('hubot', { repositories: { 'acme/web': 'admin' } });
    expect((await ask('acme', 'web', 'hubot')).data).toMatchObject({ permission: 'admin', role_name: 'admin' });
    expect((await rejection(ask('acme', 'api'))).status).toBe(403);
    // Outside every installation, whatever the person's role there: GitHub does not show the App the repository.
    expect((await rejection(ask('elsewhere', 'thing'))).status).toBe(404);
    fake.setInstallationRepositories(7, ['acme/api']);
    expect((await rejection(ask('acme', 'web'))).status).toBe(404);
    expect((await rejection(userOctokit('ghu_' + 'x'.repeat(36)).rest.repos.getCollaboratorPermissionLevel({ owner: 'acme', repo: 'api', username: 'octocat' }))).status).toBe(401);
  });


  it('is refused with 401 Bad credentials when unknown or expired, until refreshed; a refresh token works once', async () => {
    const unknown = await rejection(userOctokit('ghu_' + 'x'.repeat(36)).rest.users.getAuthenticated());
    expect(unknown).toMatchObject({ status: 401, data: { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' } });
    const anonymous = await fetch(`${fake.url}/user`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ message: 'Requires authentication', status: '401' });
    const installationToken = await fetch(`${fake.url}/user/installations`, { headers: { authorization: 'token ghs_fake7' } });
    expect(installationToken.status).toBe(403);

    fake.setOAuthUser('octocat');
    const { location } = await authorize({ client_id: APP.clientId });
    const { authentication } = await exchangeWebFlowCode({ clientType: 'github-app', clientId: APP.clientId, clientSecret: APP.clientSecret, code: location!.searchParams.get('code')!, request: octokit.request });
    const refresh = 'refreshToken' in authentication ? authentication.refreshToken : '';
    fake.advanceClock(8 * 3600_000);
    expect((await rejection(userOctokit(authentication.token).rest.users.getAuthenticated())).status).toBe(401);

    const renewed = await refreshToken({ clientType: 'github-app', clientId: APP.clientId, clientSecret: APP.clientSecret, refreshToken: refresh, request: octokit.request });
    expect(renewed.authentication.token).toMatch(/^ghu_/);
    expect(Date.parse(renewed.authentication.expiresAt)).toBeGreaterThan(Date.now() + 15 * 3600_000);
    expect((await userOctokit(renewed.authentication.token).rest.users.getAuthenticated()).data.login).toBe('octocat');
    const reused = await exchange({ client_id: APP.clientId, client_secret: APP.clientSecret, grant_type: 'refresh_token', refresh_token: refresh });
    expect(reused.body).toMatchObject({ error: 'bad_refresh_token', error_description: 'The refresh token passed is incorrect or expired.' });
    const recorded = fake.requests.filter((r) => r.path === '/login/oauth/access_token').at(-1)!;
    expect(recorded.body).toMatchObject({ grant_type: 'refresh_token', refresh_token: '[masked]', client_secret: '[masked]' });
  });

  it('answers 404 for an installation the person cannot reach, or that was uninstalled; lists installations given without repositories', async () => {
    fake.setInstallation(7, 'active', { login: 'acme' });
    fake.setInstallation(9, 'suspended', { login: 'octocat', type: 'User' });
    fake.setInstallationRepositories(7, ['acme/web']);
    fake.setInstallationRepositories(8, ['globex/site']);
    fake.setUserAccess('octocat', { installations: [9], repositories: { 'acme/web': 'write' } });
    // Another person's access, and a public repository's implicit read, open nothing.
    fake.setUserAccess('hubot', { repositories: { 'globex/site': 'admin' } });
    const user = userOctokit(await tokenFor('octocat'));

    const notMine = await rejection(user.rest.apps.listInstallationReposForAuthenticatedUser({ installation_id: 8 }));
    expect(notMine).toMatchObject({ status: 404, data: { message: 'Not Found', status: '404', documentation_url: expect.stringContaining('docs.github.com/rest/apps/installations') } });
    expect((await rejection(user.rest.apps.listInstallationReposForAuthenticatedUser({ installation_id: 12345 }))).status).toBe(404);

    const listed = await user.rest.apps.listInstallationsForAuthenticatedUser();
    expect(listed.data.installations.map((i) => [i.id, i.account && 'login' in i.account ? i.account.login : null, i.target_type, i.suspended_at !== null])).toEqual([
      [7, 'acme', 'Organization', false],
      [9, 'octocat', 'User', true],
    ]);
    expect((await user.rest.apps.listInstallationReposForAuthenticatedUser({ installation_id: 9 })).data).toMatchObject({ total_count: 0, repositories: [] });

    fake.setInstallation(7, null);
    expect((await user.rest.apps.listInstallationsForAuthenticatedUser()).data.installations.map((i) => i.id)).toEqual([9]);
    expect((await rejection(user.rest.apps.listInstallationReposForAuthenticatedUser({ installation_id: 7 }))).status).toBe(404);

    // Access set again replaces the old: the role on acme/web is gone, and so is installation 7's reach.
    fake.setInstallation(7, 'active');
    fake.setUserAccess('octocat', { installations: [9] });
    expect((await user.rest.apps.listInstallationsForAuthenticatedUser()).data.installations.map((i) => i.id)).toEqual([9]);
  });

  it('pages installations and repositories with per_page, page and a link header that Octokit follows', async () => {
    const ids = [31, 32, 33, 34, 35];
    for (const id of ids) fake.setInstallationRepositories(id, [`org${id}/app`]);
    const many = Array.from({ length: 45 }, (_, i) => `acme/svc-${String(i).padStart(2, '0')}`);
    fake.setInstallationRepositories(40, many);
    fake.setUserAccess('octocat', { installations: ids, repositories: Object.fromEntries(many.map((f) => [f, 'read' as const])) });
    const token = await tokenFor('octocat');

    const page1 = await fetch(`${fake.url}/user/installations?per_page=2`, { headers: { authorization: `Bearer ${token}` } });
    const body1 = (await page1.json()) as { total_count: number; installations: Array<{ id: number }> };
    expect(body1.total_count).toBe(6);
    expect(body1.installations.map((i) => i.id)).toEqual([31, 32]);
    expect(page1.headers.get('link')).toBe(`<${fake.url}/user/installations?per_page=2&page=2>; rel="next", <${fake.url}/user/installations?per_page=2&page=3>; rel="last"`);
    const page3 = await fetch(`${fake.url}/user/installations?per_page=2&page=3`, { headers: { authorization: `token ${token}` } });
    expect(((await page3.json()) as typeof body1).installations.map((i) => i.id)).toEqual([35, 40]);
    expect(page3.headers.get('link')).toBe(`<${fake.url}/user/installations?per_page=2&page=2>; rel="prev", <${fake.url}/user/installations?per_page=2&page=1>; rel="first"`);

    const user = userOctokit(token);
    const installations = await user.paginate(user.rest.apps.listInstallationsForAuthenticatedUser, { per_page: 2 });
    expect(installations.map((i) => i.id)).toEqual([...ids, 40]);
    const repos = await user.paginate(user.rest.apps.listInstallationReposForAuthenticatedUser, { installation_id: 40, per_page: 20 });
    expect(repos.map((r) => r.full_name)).toEqual(many);
    expect(repos.every((r) => r.id === repositoryIdOf(r.full_name) && r.permissions?.pull === true && r.permissions.push === false)).toBe(true);
    const second = await user.rest.apps.listInstallationReposForAuthenticatedUser({ installation_id: 40, per_page: 20, page: 3 });
    expect(second.data.total_count).toBe(45);
    expect(second.data.repositories).toHaveLength(5);
  });
});
