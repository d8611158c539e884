import { NOT_A_JWT, type Exchange } from '../exchange.js';
import type { FakeGithubState } from '../fake-github-state.js';
import { installationView } from '../installation-view.js';
import { repositoryView } from '../repository-view.js';

/**
 * The App's installations (`GET /app/installations`, `…/{id}`), their access tokens, and the repositories an
 * installation token reaches (`GET /installation/repositories`).
 */
export function installationRoutes(state: FakeGithubState, ex: Exchange): boolean {
  const { method, path } = ex;
  let m: RegExpExecArray | null;
  if (method === 'GET' && path === '/app/installations') {
    if (!ex.jwt) return ex.send(401, NOT_A_JWT);
    const list = [...state.installations.entries()].filter(([, st]) => st !== null);
    return ex.send(
      200,
      list.map(([id]) => installationView(state, id)),
    );
  }
  if (method === 'GET' && (m = /^\/app\/installations\/(\d+)$/.exec(path))) {
    const id = Number(m[1]);
    if (!ex.jwt) return ex.send(401, NOT_A_JWT);
    if (state.installationState(id) === null) return ex.send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/apps/apps#get-an-installation-for-the-authenticated-app' });
    return ex.send(200, installationView(state, id));
  }
  if (method === 'POST' && (m = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(path))) {
    if (state.installations.get(Number(m[1])) === null) return ex.send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app' });
    return ex.send(201, {
      token: `ghs_fake${m[1]}`,
      expires_at: new Date(Date.now() + 3600_000).toISOString(),
      permissions: { pull_requests: 'write', statuses: 'write', deployments: 'write' },
      repository_selection: 'all',
    });
  }
  if (method === 'GET' && path === '/installation/repositories') return installationRepositories(state, ex);
  return false;
}

function installationRepositories(state: FakeGithubState, ex: Exchange): true {
  const id = Number(/^token ghs_fake(\d+)$/.exec(ex.req.headers.authorization ?? '')?.[1]);
  if (!id) return ex.send(401, { message: 'Bad credentials' });
  const all = state.installationRepos.get(id) ?? [];
  const perPage = Math.min(100, Number(ex.query.get('per_page') ?? 30));
  const page = Number(ex.query.get('page') ?? 1);
  const slice = all.slice((page - 1) * perPage, page * perPage);
  const headers: Record<string, string> = {};
  if (page * perPage < all.length) {
    headers.link = `<http://${ex.req.headers.host}/installation/repositories?per_page=${perPage}&page=${page + 1}>; rel="next"`;
  }
  return ex.send(
    200,
    {
      total_count: all.length,
      repository_selection: 'selected',
      repositories: slice.map((f) => repositoryView(state, f)),
    },
    headers,
  );
}
