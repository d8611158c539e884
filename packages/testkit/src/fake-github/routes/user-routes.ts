import { accountOf } from '../account-of.js';
import type { Exchange } from '../exchange.js';
import type { FakeGithubState } from '../fake-github-state.js';
import { permissionsOf, type GithubRole } from '../github-role.js';
import { installationView } from '../installation-view.js';
import { pageOf } from '../page-of.js';
import { repositoryView } from '../repository-view.js';

/**
 * What a user access token reads: the person (`GET /user`), the App's installations they can see
 * (`GET /user/installations`) and the repositories they reach in one (`GET /user/installations/{id}/repositories`).
 */
export function userRoutes(state: FakeGithubState, ex: Exchange): boolean {
  const { path } = ex;
  if (ex.method !== 'GET' || (path !== '/user' && !path.startsWith('/user/'))) return false;
  const documentation = {
    '/user': 'https://docs.github.com/rest/users/users#get-the-authenticated-user',
    '/user/installations': 'https://docs.github.com/rest/apps/installations#list-app-installations-accessible-to-the-user-access-token',
  }[path] ?? 'https://docs.github.com/rest/apps/installations#list-repositories-accessible-to-the-user-access-token';
  const authorization = ex.req.headers.authorization;
  if (!authorization) return ex.send(401, { message: 'Requires authentication', documentation_url: documentation, status: '401' });
  const token = /^(?:token|bearer)\s+(\S+)$/i.exec(authorization)?.[1] ?? '';
  if (/^ghs_/.test(token)) return ex.send(403, { message: 'Resource not accessible by integration', documentation_url: documentation, status: '403' });
  const login = state.oauth.loginOf(token);
  if (!login) return ex.send(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
  const user = state.knowUser(login);
  if (path === '/user') return ex.send(200, userView(user));
  if (path === '/user/installations') {
    const all = state.installationsOf(login);
    const page = pageOf(all, ex.url());
    return ex.send(200, { total_count: all.length, installations: page.items.map((id) => installationView(state, id)) }, page.headers);
  }
  const m = /^\/user\/installations\/(\d+)\/repositories$/.exec(path);
  if (!m) return false;
  const id = Number(m[1]);
  if (!state.installationsOf(login).includes(id)) return ex.send(404, { message: 'Not Found', documentation_url: documentation, status: '404' });
  const all = (state.installationRepos.get(id) ?? []).filter((f) => state.reaches(f, login));
  const page = pageOf(all, ex.url());
  const repositories = page.items.map((f) => ({ ...repositoryView(state, f), permissions: permissionsOf(state.roleOf(f, login) as GithubRole) }));
  return ex.send(200, { total_count: all.length, repository_selection: 'selected', repositories }, page.headers);
}

/** The signed-in person as `GET /user` shows them. */
function userView(user: { login: string; name: string | null; email: string | null }): Record<string, unknown> {
  return {
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
  };
}
