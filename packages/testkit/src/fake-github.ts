import { repositoryIdOf } from './pull-request-payload.js';
import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { signedDelivery } from './signed-delivery.js';

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
  /** A person's role on a repository (`GET …/collaborators/{username}/permission`); unset: `read`; `null`: 404. */
  setPermission(repository: string, login: string, role: GithubRole | null): void;
  /**
   * An installation as `GET /app/installations/{id}` shows it: `suspended` sets `suspended_at`; `null` means
   * uninstalled (404, and no more tokens). Installations not set exist, active.
   */
  setInstallation(id: number, state: 'active' | 'suspended' | null): void;
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

type GithubRole = 'admin' | 'maintain' | 'write' | 'triage' | 'read' | 'none';

/**
 * A local stand-in for GitHub's REST API, speaking its shapes for what Ephemera calls: App installations and
 * their tokens and repositories, collaborator permissions, issue comments, commit statuses, deployments and
 * deployment statuses, repository files through the contents API, and the rate limits' answers. It records every
 * request.
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
  const files = new Map<string, string>();
  const fileKey = (repository: string, ref: string, path: string) => `${repository.toLowerCase()}@${ref}:${path}`;

  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const [path, search] = (req.url ?? '/').split('?') as [string, string | undefined];
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : null;
      requests.push({ method: req.method ?? 'GET', path, body, authorization: req.headers.authorization, at: Date.now() });
      const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-github-request-id': `fake-${requests.length}`, ...headers });
        res.end(payload === undefined ? '' : JSON.stringify(payload));
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
      let m: RegExpMatchArray | null;
      const jwt = /^bearer /i.test(req.headers.authorization ?? '');
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
          list.map(([id, st]) => ({ id, account: { login: 'acme', id: 1, type: 'Organization' }, app_id: 42, suspended_at: st === 'suspended' ? '2026-06-01T00:00:00Z' : null })),
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
        if (!/^bearer /i.test(req.headers.authorization ?? '')) return send(401, { message: 'A JSON web token could not be decoded' });
        if (state === null) return send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/apps/apps#get-an-installation-for-the-authenticated-app' });
        return send(200, {
          id,
          account: { login: 'acme', id: 1, type: 'Organization' },
          app_id: 42,
          target_type: 'Organization',
          permissions: { pull_requests: 'write', statuses: 'write', deployments: 'write', contents: 'read', metadata: 'read' },
          events: ['pull_request'],
          repository_selection: 'selected',
          created_at: '2026-01-01T00:00:00Z',
          updated_at: '2026-01-01T00:00:00Z',
          suspended_at: state === 'suspended' ? '2026-06-01T00:00:00Z' : null,
          suspended_by: state === 'suspended' ? { login: 'acme-admin', id: 2, type: 'User' } : null,
        });
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
            repositories: slice.map((full) => ({ id: repositoryIdOf(full), name: full.split('/')[1], full_name: full, private: false, owner: { login: full.split('/')[0] } })),
          },
          headers,
        );
      }
      if (req.method === 'GET' && (m = path.match(/^\/repos\/([^/]+)\/([^/]+)\/collaborators\/([^/]+)\/permission$/))) {
        const key = `${m[1]}/${m[2]}`.toLowerCase() + `:${decodeURIComponent(m[3]!).toLowerCase()}`;
        const role = permissions.has(key) ? permissions.get(key) : 'read';
        if (role === null || role === undefined) return send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/collaborators/collaborators#get-repository-permissions-for-a-user' });
        // `permission` folds maintain into write and triage into read, as GitHub's does.
        const permission = role === 'maintain' ? 'write' : role === 'triage' ? 'read' : role;
        return send(200, { permission, role_name: role, user: { login: decodeURIComponent(m[3]!), id: 7, type: 'User' } });
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
      if (req.method === 'POST' && /^\/repos\/[^/]+\/[^/]+\/statuses\/[0-9a-f]{40}$/.test(path)) {
        return send(201, { id: nextId++, state: body?.state, context: body?.context, description: body?.description, target_url: body?.target_url ?? null });
      }
      if (req.method === 'POST' && path.match(/^\/repos\/[^/]+\/[^/]+\/deployments$/)) {
        return send(201, { id: nextId++, sha: body?.ref, ref: body?.ref, environment: body?.environment, transient_environment: body?.transient_environment });
      }
      if (req.method === 'POST' && (m = path.match(/^\/repos\/[^/]+\/[^/]+\/deployments\/(\d+)\/statuses$/))) {
        return send(201, { id: nextId++, state: body?.state, environment_url: body?.environment_url ?? null, deployment_url: `/deployments/${m[1]}` });
      }
      return send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
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
    setInstallation(id, state) {
      installations.set(id, state);
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
