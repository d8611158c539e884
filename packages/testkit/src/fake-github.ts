import { repositoryIdOf } from './pull-request-payload.js';
import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { accountIdOf, accountOf, nodeIdOf, type AccountType } from './fake-github/account-of.js';
import { AppManifestFlow, type ManifestApp, type ManifestPage } from './fake-github/app-manifest-flow.js';
import { CommitChecks, type CheckRunChange, type NewCheckRun, type NewCommitStatus } from './fake-github/commit-checks.js';
import { OAuthWebFlow, type OAuthAppSettings } from './fake-github/oauth-web-flow.js';
import { pageOf } from './fake-github/page-of.js';
import { signedDelivery } from './signed-delivery.js';

export { accountIdOf } from './fake-github/account-of.js';
export type { OAuthAppSettings } from './fake-github/oauth-web-flow.js';
export type { ManifestApp } from './fake-github/app-manifest-flow.js';
export { appIdOf } from './fake-github/commit-checks.js';
export type { CheckRunChange, CheckRunConclusion, CheckRunStatus, CommitStatusState, NewCheckRun, NewCommitStatus } from './fake-github/commit-checks.js';

interface RecordedRequest {
  method: string;
  path: string;
  body: Record<string, unknown> | null;
  authorization: string | undefined;
  /** When it arrived (ms since the epoch). */
  at: number;
}

export interface FakeGithub {
  url: string;
  requests: RecordedRequest[];
  /** Answers the next `count` requests whose path matches with `status` (to exercise retries and drops). */
  failNext(pattern: RegExp, status: number, count?: number): void;
  /** A file of `owner/name` at commit `ref`, served by the contents API; `null` removes it. */
  setFile(repository: string, ref: string, path: string, text: string | null): void;
  /**
   * A person's role on a repository (`GET …/collaborators/{username}/permission`); unset: `read`, as anyone may
   * read a public repository; `null`: 404. A role set here (other than `none`) is also what makes the repository
   * reachable for the person's user access token (`GET /user/installations/{id}/repositories`). Asked with a user
   * access token, the permission endpoint answers as GitHub does: 404 for a repository no installation of the App
   * reaches, 403 unless the token's own person has push access there.
   */
  setPermission(repository: string, login: string, role: GithubRole | null): void;
  /**
   * An installation as `GET /app/installations/{id}` shows it: `suspended` sets `suspended_at`; `null` means
   * uninstalled (404, and no more tokens). Installations not set exist, active. `account` is who installed the
   * App; unset: the owner of the installation's first repository, else the organization `acme`.
   */
  setInstallation(id: number, state: 'active' | 'suspended' | null, account?: { login: string; type?: 'User' | 'Organization' }): void;
  /** The repositories an installation reaches (`GET /installation/repositories`); unset: none. */
  setInstallationRepositories(id: number, fullNames: string[]): void;
  /**
   * The next request whose method and path match starts a rate limit of `waitSeconds`: it and every matching
   * request until then are refused as GitHub does: `secondary` answers 403 with `retry-after`; `primary` answers
   * 403 with `x-ratelimit-remaining: 0` and `x-ratelimit-reset` at the limit's end; `429` answers 429 with
   * `retry-after`.
   */
  rateLimitNext(match: { method?: string; path: RegExp }, kind: 'secondary' | 'primary' | '429', waitSeconds: number): void;
  /** The issue comments of a pull request as GitHub holds them now. */
  commentsOf(repository: string, issueNumber: number): Array<{ id: number; body: string }>;
  /** Where GitHub sends the App's deliveries, and the secret it signs them with. */
  setWebhook(url: string, secret: string): void;
  /**
   * Sends a delivery as GitHub does (signed, with its headers) and keeps it in the App's delivery log
   * (`GET /app/hook/deliveries`), from which it can be redelivered (`POST /app/hook/deliveries/{id}/attempts`).
   * `lost: true` records it as GitHub does when the webhook URL cannot be reached, without sending it.
   */
  deliver(event: string, payload: Record<string, unknown>, options?: { guid?: string; lost?: boolean }): Promise<FakeDelivery>;
  /** Every delivery attempt, oldest first (redeliveries included). */
  deliveries: FakeDelivery[];
  /** Moves GitHub's clock (the `delivered_at` of deliveries from now on) this far ahead, for tests of time-based rules. */
  advanceClock(ms: number): void;
  /** A pull request as the pulls API serves it (`GET /repos/{o}/{r}/pulls`, `…/pulls/{n}`): a webhook payload's `pull_request`. */
  setPullRequest(repository: string, pullRequest: Record<string, unknown>): void;
  /**
   * The App's OAuth credentials for "Sign in with GitHub" (`/login/oauth/authorize`, with PKCE's S256
   * `code_challenge` when given; `/login/oauth/access_token`, which then wants its `code_verifier`;
   * `DELETE /applications/{client_id}/token`, which revokes a user token given the credentials as Basic auth);
   * until set, the authorize page knows no client_id and the token endpoint refuses every client.
   */
  setOAuthApp(app: OAuthAppSettings): void;
  /**
   * Who is signed in to GitHub in the browser: the authorize page consents at once and hands this person's code to
   * the callback (GitHub's own `login` parameter is only a hint on its sign-in page, and the fake ignores it as the
   * signed-in session does). `null`: nobody, and the page refuses. `profile` is what `GET /user` shows besides the
   * login.
   */
  setOAuthUser(login: string | null, profile?: { name?: string | null; email?: string | null }): void;
  /**
   * What a person reaches through the App, replacing what was set for them before: the repositories with their
   * role on each (as {@link FakeGithub.setPermission} sets it, so the collaborator permission endpoint agrees) and
   * installations they can see even without a repository in them (an account they own or administer). The user
   * token sees an installation when it is listed here or holds a repository the person reaches, and sees only those
   * repositories in it.
   */
  setUserAccess(login: string, access: { installations?: number[]; repositories?: Record<string, GithubRole> }): void;
  /**
   * A new check run on commit `sha` of `owner/name`, as an App (`app`, a slug; GitHub Actions when unset) creates
   * one; a re-run is another call with the same name, which `GET …/commits/{ref}/check-runs` then shows instead of
   * the earlier run unless asked for `filter=all`. Returns the run's id. A run is completed exactly when it has a
   * conclusion, as GitHub requires.
   */
  addCheckRun(repository: string, sha: string, run: NewCheckRun): number;
  /** Moves a check run on (a conclusion completes it and sets `completed_at`, as on GitHub). */
  updateCheckRun(id: number, change: CheckRunChange): void;
  /**
   * A commit status set by CI (`POST /repos/{o}/{r}/statuses/{sha}` records the App's own the same way): the combined
   * status (`GET …/commits/{ref}/status`) shows the newest of each context.
   */
  addCommitStatus(repository: string, sha: string, status: NewCommitStatus): void;
  /**
   * The Apps registered from a manifest, oldest first, with the credentials GitHub hands out once. The registration
   * page (`POST /settings/apps/new` or `/organizations/{org}/settings/apps/new`, the `manifest` field, `?state=`) shows
   * the manifest with the name editable, for the person signed in ({@link FakeGithub.setOAuthUser}); its button
   * registers the App and sends the browser to `redirect_url` with a `code` and the `state`.
   * `POST /app-manifests/{code}/conversions` trades a code once, within the hour, else 404. A registered App's webhook
   * becomes where {@link FakeGithub.deliver} sends, signed with its secret, as GitHub then delivers to it.
   */
  apps: readonly ManifestApp[];
  close(): Promise<void>;
}

interface FakeDelivery {
  id: number;
  guid: string;
  event: string;
  action: string | null;
  delivered_at: string;
  redelivery: boolean;
  status: string;
  status_code: number;
  installation_id: number | null;
  repository_id: number | null;
  payload: Record<string, unknown>;
}

export type GithubRole = 'admin' | 'maintain' | 'write' | 'triage' | 'read' | 'none';

/**
 * Secrets a client sends in a body, masked in `requests` so that test output printing recorded requests never shows
 * them; that they were sent still shows.
 */
const SECRET_FIELDS = ['client_secret', 'refresh_token', 'access_token'];
function masked(body: Record<string, unknown> | null): Record<string, unknown> | null {
  if (!body || typeof body !== 'object' || !SECRET_FIELDS.some((f) => f in body)) return body;
  return Object.fromEntries(Object.entries(body).map(([k, v]) => [k, SECRET_FIELDS.includes(k) ? '[masked]' : v]));
}

const ROLE_RANK: Record<GithubRole, number> = { none: 0, read: 1, triage: 2, write: 3, maintain: 4, admin: 5 };

/** The `permissions` GitHub shows for a role, on a repository and on a collaborator. */
function permissionsOf(role: GithubRole): Record<'admin' | 'maintain' | 'push' | 'triage' | 'pull', boolean> {
  const rank = ROLE_RANK[role];
  return { admin: rank >= ROLE_RANK.admin, maintain: rank >= ROLE_RANK.maintain, push: rank >= ROLE_RANK.write, triage: rank >= ROLE_RANK.triage, pull: rank >= ROLE_RANK.read };
}

/**
 * A local stand-in for GitHub's REST API, speaking its shapes for what Ephemera calls: App installations and
 * their tokens and repositories, collaborator permissions, issue comments, commit statuses, deployments and
 * deployment statuses, repository files through the contents API, and the rate limits' answers. It also serves
 * "Sign in with GitHub": the web application flow's pages (on github.com, served here from the same base URL as the
 * API) and what a user access token reads: the person, and the App's installations and repositories they reach;
 * and registering a GitHub App from a manifest (the registration page and the code's conversion).
 * It records every request, with client secrets, refresh tokens and access tokens in bodies masked.
 */
export async function startFakeGithub(): Promise<FakeGithub> {
  const requests: RecordedRequest[] = [];
  const failures: Array<{ pattern: RegExp; status: number; count: number }> = [];
  let nextId = 1000;
  const comments = new Map<number, { body: string; repository: string; issue: number }>();
  const permissions = new Map<string, GithubRole | null>();
  const installations = new Map<number, 'active' | 'suspended' | null>();
  const installationRepos = new Map<number, string[]>();
  const rateLimits: Array<{ method?: string; path: RegExp; kind: 'secondary' | 'primary' | '429'; wait: number; until: number | null }> = [];
  const bot = { login: 'ephemera[bot]', id: 4242, type: 'Bot' };
  const deliveries: FakeDelivery[] = [];
  let webhook: { url: string; secret: string } | null = null;
  let nextDeliveryId = 1;
  let clockOffset = 0;
  const pulls = new Map<string, Map<number, Record<string, unknown>>>();
  const now = () => Date.now() + clockOffset;
  const oauth = new OAuthWebFlow(now);
  let baseUrl = '';
  const manifests = new AppManifestFlow(now, () => baseUrl);
  /** People the fake knows, by lowercased login: their login as spelled and what `GET /user` shows. */
  const users = new Map<string, { login: string; name: string | null; email: string | null }>();
  const userInstallations = new Map<string, number[]>();
  const installationAccounts = new Map<number, { login: string; type: AccountType }>();

  const knowUser = (login: string) => {
    const key = login.toLowerCase();
    if (!users.has(key)) users.set(key, { login, name: null, email: null });
    return users.get(key)!;
  };
  const roleOf = (repository: string, login: string) => permissions.get(`${repository.toLowerCase()}:${login.toLowerCase()}`);
  /** Only a role given explicitly reaches a repository through the App: an unset one is a public repository's read. */
  const reaches = (repository: string, login: string) => {
    const role = roleOf(repository, login);
    return role !== undefined && role !== null && role !== 'none';
  };
  const accountTypeOf = (login: string): AccountType =>
    [...installationAccounts.values()].find((a) => a.login.toLowerCase() === login.toLowerCase())?.type ?? (users.has(login.toLowerCase()) ? 'User' : 'Organization');
  const installationAccount = (id: number) => {
    const set = installationAccounts.get(id);
    if (set) return set;
    const login = installationRepos.get(id)?.[0]?.split('/')[0] ?? 'acme';
    return { login, type: accountTypeOf(login) };
  };
  /** An installation as every endpoint shows it (`GET /app/installations…`, `GET /user/installations`). */
  const installationView = (id: number) => {
    const state = installations.has(id) ? installations.get(id) : 'active';
    const account = installationAccount(id);
    return {
      id,
      account: accountOf(account.login, account.type),
      repository_selection: 'selected',
      access_tokens_url: `https://api.github.com/app/installations/${id}/access_tokens`,
      repositories_url: 'https://api.github.com/installation/repositories',
      html_url: account.type === 'Organization' ? `https://github.com/organizations/${account.login}/settings/installations/${id}` : `https://github.com/settings/installations/${id}`,
      app_id: 42,
      app_slug: 'ephemera',
      target_id: accountIdOf(account.login),
      target_type: account.type,
      permissions: { pull_requests: 'write', statuses: 'write', deployments: 'write', contents: 'read', metadata: 'read' },
      events: ['pull_request', 'pull_request_review'],
      created_at: '2026-01-01T00:00:00Z',
      updated_at: '2026-01-01T00:00:00Z',
      single_file_name: null,
      has_multiple_single_files: false,
      single_file_paths: [],
      suspended_at: state === 'suspended' ? '2026-06-01T00:00:00Z' : null,
      suspended_by: state === 'suspended' ? { login: 'acme-admin', id: 2, type: 'User' } : null,
    };
  };
  /** A repository as GitHub lists it; public, as the collaborator permission's default `read` implies. */
  const repositoryView = (fullName: string) => {
    const [owner, name] = fullName.split('/') as [string, string];
    const id = repositoryIdOf(fullName);
    return {
      id,
      node_id: nodeIdOf('Repository', id),
      name,
      full_name: fullName,
      private: false,
      owner: accountOf(owner, accountTypeOf(owner)),
      html_url: `https://github.com/${fullName}`,
      description: null,
      fork: false,
      url: `https://api.github.com/repos/${fullName}`,
      archived: false,
      disabled: false,
      visibility: 'public',
      default_branch: 'main',
    };
  };
  /** The installations a person's user token sees, by id, leaving out uninstalled ones. */
  const installationsOf = (login: string) => {
    const ids = new Set(userInstallations.get(login.toLowerCase()) ?? []);
    for (const [id, fullNames] of installationRepos) if (fullNames.some((f) => reaches(f, login))) ids.add(id);
    return [...ids].filter((id) => installations.get(id) !== null).sort((a, b) => a - b);
  };

  /** One attempt of a delivery, sent now (or recorded as unreachable), kept in the delivery log. */
  async function attempt(event: string, payload: Record<string, unknown>, guid: string, redelivery: boolean, lost: boolean): Promise<FakeDelivery> {
    const started = Date.now() + clockOffset;
    let status = 'failed to connect to host';
    let statusCode = 0;
    if (!lost && webhook) {
      try {
        const signed = await signedDelivery(webhook.secret, event, payload, { deliveryId: guid });
        const res = await fetch(webhook.url, { method: 'POST', headers: signed.headers, body: signed.body, signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        statusCode = res.status;
        status = res.ok ? 'OK' : `Invalid HTTP Response: ${res.status}`;
      } catch {
        // unreachable, as recorded above
      }
    }
    const record: FakeDelivery = {
      id: nextDeliveryId++,
      guid,
      event,
      action: typeof payload.action === 'string' ? payload.action : null,
      delivered_at: new Date(started).toISOString().replace(/\.\d+Z$/, 'Z'),
      redelivery,
      status,
      status_code: statusCode,
      installation_id: (payload.installation as { id?: number } | undefined)?.id ?? null,
      repository_id: (payload.repository as { id?: number } | undefined)?.id ?? null,
      payload,
    };
    deliveries.push(record);
    return record;
  }
  const listed = (d: FakeDelivery) => {
    const { payload: _payload, ...rest } = d;
    return { ...rest, duration: 0.05, throttled_at: null };
  };
  const checks = new CommitChecks(now, repositoryView);
  const files = new Map<string, string>();
  const fileKey = (repository: string, ref: string, path: string) => `${repository.toLowerCase()}@${ref}:${path}`;

  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const [path, search] = (req.url ?? '/').split('?') as [string, string | undefined];
      // The token endpoint takes form-encoded bodies as well as JSON, as GitHub's does.
      const form = /^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '');
      let body: Record<string, unknown> | null = null;
      let unparsable = false;
      try {
        if (raw) body = form ? Object.fromEntries(new URLSearchParams(raw)) : (JSON.parse(raw) as Record<string, unknown>);
      } catch {
        unparsable = true;
      }
      requests.push({ method: req.method ?? 'GET', path, body: masked(body), authorization: req.headers.authorization, at: Date.now() });
      const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-github-request-id': `fake-${requests.length}`, ...headers });
        res.end(payload === undefined ? '' : JSON.stringify(payload));
      };
      const sendText = (status: number, text: string, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
        res.end(text);
      };
      const limit = rateLimits.find((r) => (r.until === null || r.until > Date.now()) && (!r.method || r.method === req.method) && r.path.test(path));
      if (limit) {
        limit.until ??= Date.now() + limit.wait * 1000;
        const left = Math.max(1, Math.ceil((limit.until - Date.now()) / 1000));
        if (limit.kind === 'primary') {
          return send(403, { message: 'API rate limit exceeded for installation ID 1.', documentation_url: 'https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting' }, {
            'x-ratelimit-limit': '5000',
            'x-ratelimit-remaining': '0',
            'x-ratelimit-used': '5000',
            'x-ratelimit-reset': String(Math.ceil(limit.until / 1000)),
          });
        }
        return send(
          limit.kind === '429' ? 429 : 403,
          { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.', documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits' },
          { 'retry-after': String(left) },
        );
      }
      const failure = failures.find((f) => f.count > 0 && f.pattern.test(path));
      if (failure) {
        failure.count--;
        return send(failure.status, { message: `fake failure ${failure.status}`, documentation_url: 'https://docs.github.com/rest' });
      }
      if (unparsable) return send(400, { message: 'Problems parsing JSON', documentation_url: 'https://docs.github.com/rest', status: '400' });
      let m: RegExpMatchArray | null;
      // A user or installation token sent as `Bearer` is no JSON web token, though the scheme is the same.
      const jwt = /^bearer /i.test(req.headers.authorization ?? '') && !/^bearer gh[a-z]_/i.test(req.headers.authorization ?? '');
      if (req.method === 'GET' && path === '/login/oauth/authorize') {
        const outcome = oauth.authorize(new URLSearchParams(search ?? ''));
        if (outcome.status === 302) {
          res.writeHead(302, { location: outcome.location, 'content-type': 'text/html; charset=utf-8' });
          return res.end(`<html><body>You are being <a href="${outcome.location.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}">redirected</a>.</body></html>`);
        }
        return sendText(outcome.status, outcome.text);
      }
      const registration = req.method === 'POST' ? /^(?:\/organizations\/([^/]+))?\/settings\/apps\/new(?:\/([0-9a-f]+))?$/.exec(path) : null;
      if (registration) {
        const answer = (outcome: ManifestPage) => {
          if (outcome.status === 302) {
            res.writeHead(302, { location: outcome.location, 'content-type': 'text/html; charset=utf-8' });
            return res.end(`<html><body>You are being <a href="${outcome.location.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}">redirected</a>.</body></html>`);
          }
          res.writeHead(outcome.status, { 'content-type': 'text/html; charset=utf-8' });
          return res.end(outcome.html);
        };
        if (!registration[2]) return answer(manifests.registrationPage(body, new URLSearchParams(search ?? ''), oauth.signedInLogin, registration[1] ? decodeURIComponent(registration[1]) : null));
        return void manifests.create(registration[2], body).then(({ page, app }) => {
          // GitHub delivers to the App it just registered, signed with its secret.
          const hook = app?.manifest.hook_attributes as { url: string; active?: boolean } | undefined;
          if (app && hook && hook.active !== false) webhook = { url: hook.url, secret: app.webhookSecret };
          answer(page);
        });
      }
      if (req.method === 'POST' && (m = path.match(/^\/app-manifests\/([^/]+)\/conversions$/))) {
        // No authentication: the code itself is the credential, good once.
        const app = manifests.convert(decodeURIComponent(m[1]!));
        if (!app) return send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/apps/apps#create-a-github-app-from-a-manifest', status: '404' });
        return send(201, app);
      }
      if (req.method === 'POST' && path === '/login/oauth/access_token') {
        // Parameters may come in the query string or the body, as GitHub accepts both.
        const params: Record<string, string | undefined> = Object.fromEntries(new URLSearchParams(search ?? ''));
        for (const [k, v] of Object.entries(body ?? {})) if (v !== undefined && v !== null) params[k] = String(v);
        const answer = oauth.exchange(params);
        // Always 200, errors included; JSON only when asked for. The date is the fake's clock, from which clients
        // reckon when the token expires.
        const headers = { date: new Date(now()).toUTCString(), 'x-github-request-id': `fake-${requests.length}` };
        if (/\bapplication\/json\b/i.test(req.headers.accept ?? '')) return send(200, answer, headers);
        const text = new URLSearchParams(Object.entries(answer).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]): [string, string] => [k, String(v)])).toString();
        return sendText(200, text, { ...headers, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' });
      }
      if (req.method === 'GET' && (path === '/user' || path.startsWith('/user/'))) {
        const documentation = {
          '/user': 'https://docs.github.com/rest/users/users#get-the-authenticated-user',
          '/user/installations': 'https://docs.github.com/rest/apps/installations#list-app-installations-accessible-to-the-user-access-token',
        }[path] ?? 'https://docs.github.com/rest/apps/installations#list-repositories-accessible-to-the-user-access-token';
        const authorization = req.headers.authorization;
        if (!authorization) return send(401, { message: 'Requires authentication', documentation_url: documentation, status: '401' });
        const token = /^(?:token|bearer)\s+(\S+)$/i.exec(authorization)?.[1] ?? '';
        if (/^ghs_/.test(token)) return send(403, { message: 'Resource not accessible by integration', documentation_url: documentation, status: '403' });
        const login = oauth.loginOf(token);
        if (!login) return send(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
        const user = knowUser(login);
        const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
        if (path === '/user') {
          return send(200, {
            ...accountOf(user.login, 'User'),
            user_view_type: 'private',
            name: user.name,
            company: null,
            blog: '',
            location: null,
            email: user.email,
            hireable: null,
            bio: null,
            twitter_username: null,
            notification_email: user.email,
            public_repos: 0,
            public_gists: 0,
            followers: 0,
            following: 0,
            created_at: '2020-01-01T00:00:00Z',
            updated_at: '2026-01-01T00:00:00Z',
          });
        }
        if (path === '/user/installations') {
          const all = installationsOf(login);
          const page = pageOf(all, url);
          return send(200, { total_count: all.length, installations: page.items.map(installationView) }, page.headers);
        }
        if ((m = path.match(/^\/user\/installations\/(\d+)\/repositories$/))) {
          const id = Number(m[1]);
          if (!installationsOf(login).includes(id)) return send(404, { message: 'Not Found', documentation_url: documentation, status: '404' });
          const all = (installationRepos.get(id) ?? []).filter((f) => reaches(f, login));
          const page = pageOf(all, url);
          return send(
            200,
            {
              total_count: all.length,
              repository_selection: 'selected',
              repositories: page.items.map((f) => ({ ...repositoryView(f), permissions: permissionsOf(roleOf(f, login) as GithubRole) })),
            },
            page.headers,
          );
        }
      }
      if (req.method === 'GET' && path === '/app/hook/deliveries') {
        if (!jwt) return send(401, { message: 'A JSON web token could not be decoded' });
        // Newest first; the cursor is where the next page starts.
        const q = new URLSearchParams(search ?? '');
        const perPage = Math.min(100, Number(q.get('per_page') ?? 30));
        const newestFirst = [...deliveries].reverse();
        const from = q.get('cursor') ? newestFirst.findIndex((d) => `v1_${d.id}` === q.get('cursor')) : 0;
        if (from < 0) return send(422, { message: 'Validation Failed', errors: [{ field: 'cursor', code: 'invalid' }] });
        const page = newestFirst.slice(from, from + perPage);
        const next = newestFirst[from + perPage];
        const headers: Record<string, string> = next ? { link: `<http://${req.headers.host}/app/hook/deliveries?per_page=${perPage}&cursor=v1_${next.id}>; rel="next"` } : {};
        return send(200, page.map(listed), headers);
      }
      if ((m = path.match(/^\/app\/hook\/deliveries\/(\d+)(\/attempts)?$/))) {
        if (!jwt) return send(401, { message: 'A JSON web token could not be decoded' });
        const found = deliveries.find((d) => d.id === Number(m![1]));
        if (!found) return send(404, { message: 'Not Found' });
        if (req.method === 'GET' && !m[2]) return send(200, { ...listed(found), url: webhook?.url ?? '', request: { headers: {}, payload: found.payload }, response: { headers: {}, payload: null } });
        if (req.method === 'POST' && m[2]) {
          setImmediate(() => void attempt(found.event, found.payload, found.guid, true, false));
          return send(202, {});
        }
      }
      if (req.method === 'GET' && path === '/app/installations') {
        if (!jwt) return send(401, { message: 'A JSON web token could not be decoded' });
        const list = [...installations.entries()].filter(([, st]) => st !== null);
        return send(
          200,
          list.map(([id]) => installationView(id)),
        );
      }
      if (req.method === 'GET' && (m = path.match(/^\/repos\/([^/]+)\/([^/]+)\/pulls(?:\/(\d+))?$/))) {
        const byNumber = pulls.get(`${m[1]}/${m[2]}`.toLowerCase()) ?? new Map<number, Record<string, unknown>>();
        if (m[3]) {
          const pr = byNumber.get(Number(m[3]));
          return pr ? send(200, pr) : send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/pulls/pulls#get-a-pull-request' });
        }
        const q = new URLSearchParams(search ?? '');
        const state = q.get('state') ?? 'open';
        const perPage = Math.min(100, Number(q.get('per_page') ?? 30));
        const page = Number(q.get('page') ?? 1);
        const all = [...byNumber.values()].filter((p) => state === 'all' || p.state === state).sort((a, b) => Number(b.number) - Number(a.number));
        const body = all.slice((page - 1) * perPage, page * perPage);
        // Conditional requests: an unchanged list answers 304 and costs no rate limit, as GitHub's do.
        const etag = `W/"${createHash('sha1').update(JSON.stringify(body)).digest('hex')}"`;
        const headers: Record<string, string> = { etag };
        if (page * perPage < all.length) headers.link = `<http://${req.headers.host}${path}?state=${state}&per_page=${perPage}&page=${page + 1}>; rel="next"`;
        if (req.headers['if-none-match'] === etag) {
          res.writeHead(304, headers);
          return res.end();
        }
        return send(200, body, headers);
      }
      if (req.method === 'GET' && (m = path.match(/^\/app\/installations\/(\d+)$/))) {
        const id = Number(m[1]);
        const state = installations.has(id) ? installations.get(id) : 'active';
        if (!jwt) return send(401, { message: 'A JSON web token could not be decoded' });
        if (state === null) return send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/apps/apps#get-an-installation-for-the-authenticated-app' });
        return send(200, installationView(id));
      }
      if (req.method === 'GET' && path === '/installation/repositories') {
        const id = Number(/^token ghs_fake(\d+)$/.exec(req.headers.authorization ?? '')?.[1]);
        if (!id) return send(401, { message: 'Bad credentials' });
        const all = installationRepos.get(id) ?? [];
        const q = new URLSearchParams(search ?? '');
        const perPage = Math.min(100, Number(q.get('per_page') ?? 30));
        const page = Number(q.get('page') ?? 1);
        const slice = all.slice((page - 1) * perPage, page * perPage);
        const headers: Record<string, string> = {};
        if (page * perPage < all.length) {
          headers.link = `<http://${req.headers.host}/installation/repositories?per_page=${perPage}&page=${page + 1}>; rel="next"`;
        }
        return send(
          200,
          {
            total_count: all.length,
            repository_selection: 'selected',
            repositories: slice.map(repositoryView),
          },
          headers,
        );
      }
      if (req.method === 'DELETE' && (m = path.match(/^\/applications\/([^/]+)\/token$/))) {
        // The App's own credentials as Basic auth, the token in the body (GitHub's "Delete an app token").
        const documentation = 'https://docs.github.com/rest/apps/oauth-applications#delete-an-app-token';
        const basic = /^basic\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
        if (!basic) return send(401, { message: 'Requires authentication', documentation_url: documentation, status: '401' });
        const credentials = Buffer.from(basic, 'base64').toString('utf8');
        const colon = credentials.indexOf(':');
        const [clientId, clientSecret] = colon < 0 ? [credentials, ''] : [credentials.slice(0, colon), credentials.slice(colon + 1)];
        const token = body?.access_token;
        if (typeof token !== 'string' || token === '') return send(422, { message: 'Validation Failed', errors: [{ resource: 'OauthAccess', field: 'access_token', code: 'missing_field' }], documentation_url: documentation, status: '422' });
        // Credentials of another App, or for another client id than the path's: GitHub does not say which exist.
        const outcome = clientId === decodeURIComponent(m[1]!) ? oauth.revoke(clientId, clientSecret, token) : 'bad-credentials';
        // A token that is not (or no longer) one of the App's: 404, as its sibling "Check a token" answers.
        if (outcome !== 'revoked') return send(404, { message: 'Not Found', documentation_url: documentation, status: '404' });
        return send(204, undefined);
      }
      if (req.method === 'GET' && (m = path.match(/^\/repos\/([^/]+)\/([^/]+)\/collaborators\/([^/]+)\/permission$/))) {
        const documentation = 'https://docs.github.com/rest/collaborators/collaborators#get-repository-permissions-for-a-user';
        const repository = `${m[1]}/${m[2]}`;
        // A user access token reaches only the repositories of the App's installations that the person can see, and
        // GitHub answers this endpoint only to someone with push access (403 "Must have push access…" otherwise).
        const userToken = /^(?:token|bearer)\s+(ghu_\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
        if (userToken !== undefined) {
          const caller = oauth.loginOf(userToken);
          if (!caller) return send(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
          const installed = [...installationRepos].some(([id, names]) => installations.get(id) !== null && names.some((f) => f.toLowerCase() === repository.toLowerCase()));
          const callerRole = permissions.has(`${repository.toLowerCase()}:${caller.toLowerCase()}`) ? roleOf(repository, caller) : 'read';
          if (!installed || callerRole === null || callerRole === undefined) return send(404, { message: 'Not Found', documentation_url: documentation, status: '404' });
          if (ROLE_RANK[callerRole] < ROLE_RANK.write) return send(403, { message: 'Must have push access to view collaborator permission.', documentation_url: documentation, status: '403' });
        }
        const key = `${m[1]}/${m[2]}`.toLowerCase() + `:${decodeURIComponent(m[3]!).toLowerCase()}`;
        const role = permissions.has(key) ? permissions.get(key) : 'read';
        if (role === null || role === undefined) return send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/collaborators/collaborators#get-repository-permissions-for-a-user' });
        // `permission` folds maintain into write and triage into read, as GitHub's does.
        const permission = role === 'maintain' ? 'write' : role === 'triage' ? 'read' : role;
        const login = users.get(decodeURIComponent(m[3]!).toLowerCase())?.login ?? decodeURIComponent(m[3]!);
        return send(200, { permission, role_name: role, user: { ...accountOf(login, 'User'), permissions: permissionsOf(role), role_name: role } });
      }
      if (req.method === 'GET' && (m = path.match(/^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/))) {
        const repository = `${m[1]}/${m[2]}`.toLowerCase();
        const list = [...comments.entries()].filter(([, c]) => c.repository === repository && c.issue === Number(m![3]));
        const q = new URLSearchParams(search ?? '');
        const perPage = Math.min(100, Number(q.get('per_page') ?? 30));
        const page = Number(q.get('page') ?? 1);
        const headers: Record<string, string> = {};
        if (page * perPage < list.length) headers.link = `<http://${req.headers.host}${path}?per_page=${perPage}&page=${page + 1}>; rel="next"`;
        return send(
          200,
          list.slice((page - 1) * perPage, page * perPage).map(([id, c]) => ({ id, node_id: `IC_${id}`, body: c.body, user: bot, html_url: `https://github.com/${m![1]}/${m![2]}/pull/${m![3]}#issuecomment-${id}` })),
          headers,
        );
      }
      if (req.method === 'DELETE' && (m = path.match(/^\/repos\/[^/]+\/[^/]+\/issues\/comments\/(\d+)$/))) {
        if (!comments.delete(Number(m[1]))) return send(404, { message: 'Not Found' });
        return send(204, undefined);
      }
      if (req.method === 'POST' && (m = path.match(/^\/app\/installations\/(\d+)\/access_tokens$/))) {
        if (installations.get(Number(m[1])) === null) return send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app' });
        return send(201, {
          token: `ghs_fake${m[1]}`,
          expires_at: new Date(Date.now() + 3600_000).toISOString(),
          permissions: { pull_requests: 'write', statuses: 'write', deployments: 'write' },
          repository_selection: 'all',
        });
      }
      if (req.method === 'GET' && (m = path.match(/^\/repos\/([^/]+)\/([^/]+)\/contents\/(.+)$/))) {
        // GitHub's shape for a file: base64 content wrapped at 60 characters, its blob sha, links.
        const ref = new URLSearchParams(search ?? '').get('ref') ?? 'HEAD';
        const filePath = decodeURIComponent(m[3]!);
        const text = files.get(fileKey(`${m[1]}/${m[2]}`, ref, filePath));
        if (text === undefined) return send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/repos/contents#get-repository-content', status: '404' });
        const content = Buffer.from(text, 'utf8').toString('base64').replace(/(.{60})/g, '$1\n');
        const blob = createHash('sha1').update(`blob ${Buffer.byteLength(text)}\0${text}`).digest('hex');
        const url = `https://api.github.com/repos/${m[1]}/${m[2]}/contents/${filePath}?ref=${ref}`;
        return send(200, {
          type: 'file',
          encoding: 'base64',
          size: Buffer.byteLength(text),
          name: filePath.split('/').at(-1),
          path: filePath,
          content,
          sha: blob,
          url,
          git_url: `https://api.github.com/repos/${m[1]}/${m[2]}/git/blobs/${blob}`,
          html_url: `https://github.com/${m[1]}/${m[2]}/blob/${ref}/${filePath}`,
          download_url: `https://raw.githubusercontent.com/${m[1]}/${m[2]}/${ref}/${filePath}`,
          _links: { self: url, git: `https://api.github.com/repos/${m[1]}/${m[2]}/git/blobs/${blob}`, html: `https://github.com/${m[1]}/${m[2]}/blob/${ref}/${filePath}` },
        });
      }
      if (req.method === 'POST' && (m = path.match(/^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/))) {
        const id = nextId++;
        comments.set(id, { body: String(body?.body ?? ''), repository: `${m[1]}/${m[2]}`.toLowerCase(), issue: Number(m[3]) });
        return send(201, { id, node_id: `IC_${id}`, body: body?.body, user: bot, html_url: `https://github.com/${m[1]}/${m[2]}/pull/${m[3]}#issuecomment-${id}` });
      }
      if (req.method === 'PATCH' && (m = path.match(/^\/repos\/[^/]+\/[^/]+\/issues\/comments\/(\d+)$/))) {
        const id = Number(m[1]);
        const existing = comments.get(id);
        if (!existing) return send(404, { message: 'Not Found' });
        comments.set(id, { ...existing, body: String(body?.body ?? '') });
        return send(200, { id, body: body?.body, user: bot });
      }
      if (req.method === 'POST' && (m = path.match(/^\/repos\/([^/]+)\/([^/]+)\/statuses\/([0-9a-f]{40})$/))) {
        // Kept where the combined status shows it, under GitHub's default context when none is given.
        const status = { context: String(body?.context ?? 'default'), state: body?.state as NewCommitStatus['state'], targetUrl: (body?.target_url as string | undefined) ?? null, description: (body?.description as string | undefined) ?? null };
        const id = checks.addStatus(`${m[1]}/${m[2]}`, m[3]!, status, { ...bot, avatar_url: 'https://avatars.githubusercontent.com/in/42?v=4' }) ?? nextId++;
        return send(201, { id, state: body?.state, context: body?.context, description: body?.description, target_url: body?.target_url ?? null });
      }
      if (req.method === 'POST' && path.match(/^\/repos\/[^/]+\/[^/]+\/deployments$/)) {
        return send(201, { id: nextId++, sha: body?.ref, ref: body?.ref, environment: body?.environment, transient_environment: body?.transient_environment });
      }
      if (req.method === 'POST' && (m = path.match(/^\/repos\/[^/]+\/[^/]+\/deployments\/(\d+)\/statuses$/))) {
        return send(201, { id: nextId++, state: body?.state, environment_url: body?.environment_url ?? null, deployment_url: `/deployments/${m[1]}` });
      }
      const answer = checks.answer(req.method ?? 'GET', path, new URL(req.url ?? '/', `http://${req.headers.host}`));
      if (answer) return send(answer.status, answer.body, answer.headers);
      return send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://127.0.0.1:${port}`;
  return {
    url: baseUrl,
    apps: manifests.apps,
    requests,
    failNext(pattern, status, count = 1) {
      failures.push({ pattern, status, count });
    },
    setFile(repository, ref, path, text) {
      if (text === null) files.delete(fileKey(repository, ref, path));
      else files.set(fileKey(repository, ref, path), text);
    },
    setPermission(repository, login, role) {
      permissions.set(`${repository.toLowerCase()}:${login.toLowerCase()}`, role);
    },
    setInstallation(id, state, account) {
      installations.set(id, state);
      if (account) installationAccounts.set(id, { login: account.login, type: account.type ?? 'Organization' });
    },
    setInstallationRepositories(id, fullNames) {
      installationRepos.set(id, [...fullNames]);
    },
    rateLimitNext(match, kind, waitSeconds) {
      rateLimits.push({ ...match, kind, wait: waitSeconds, until: null });
    },
    setWebhook(url, secret) {
      webhook = { url, secret };
    },
    deliver(event, payload, options = {}) {
      return attempt(event, payload, options.guid ?? randomUUID(), false, options.lost ?? false);
    },
    deliveries,
    advanceClock(ms) {
      clockOffset += ms;
    },
    setPullRequest(repository, pullRequest) {
      const key = repository.toLowerCase();
      if (!pulls.has(key)) pulls.set(key, new Map());
      pulls.get(key)!.set(Number(pullRequest.number), structuredClone(pullRequest));
    },
    setOAuthApp(app) {
      oauth.setApp(app);
    },
    setOAuthUser(login, profile = {}) {
      oauth.setSignedIn(login);
      if (login === null) return;
      const user = knowUser(login);
      if (profile.name !== undefined) user.name = profile.name;
      if (profile.email !== undefined) user.email = profile.email;
    },
    setUserAccess(login, access) {
      knowUser(login);
      const suffix = `:${login.toLowerCase()}`;
      for (const key of [...permissions.keys()]) if (key.endsWith(suffix)) permissions.delete(key);
      for (const [repository, role] of Object.entries(access.repositories ?? {})) permissions.set(`${repository.toLowerCase()}${suffix}`, role);
      userInstallations.set(login.toLowerCase(), [...(access.installations ?? [])]);
    },
    addCheckRun(repository, sha, run) {
      return checks.addCheckRun(repository, sha, run);
    },
    updateCheckRun(id, change) {
      checks.updateCheckRun(id, change);
    },
    addCommitStatus(repository, sha, status) {
      checks.addStatus(repository, sha, status);
    },
    commentsOf(repository, issueNumber) {
      return [...comments.entries()]
        .filter(([, c]) => c.repository === repository.toLowerCase() && c.issue === issueNumber)
        .map(([id, c]) => ({ id, body: c.body }));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
