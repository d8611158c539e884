import { accountOf } from '../account-of.js';
import type { Exchange } from '../exchange.js';
import { roleKey, type FakeGithubState } from '../fake-github-state.js';
import { permissionsOf, ROLE_RANK } from '../github-role.js';

const DOCUMENTATION = 'https://docs.github.com/rest/collaborators/collaborators#get-repository-permissions-for-a-user';

/** A person's permission on a repository (`GET /repos/{o}/{r}/collaborators/{username}/permission`). */
export function collaboratorRoutes(state: FakeGithubState, ex: Exchange): boolean {
  const m = ex.method === 'GET' ? /^\/repos\/([^/]+)\/([^/]+)\/collaborators\/([^/]+)\/permission$/.exec(ex.path) : null;
  if (!m) return false;
  const repository = `${m[1]}/${m[2]}`;
  if (userTokenRefused(state, ex, repository)) return true;
  const username = decodeURIComponent(m[3]!);
  const key = roleKey(repository, username);
  const role = state.permissions.has(key) ? state.permissions.get(key) : 'read';
  if (role === null || role === undefined) return ex.send(404, { message: 'Not Found', documentation_url: DOCUMENTATION });
  // `permission` folds maintain into write and triage into read, as GitHub's does.
  const permission = role === 'maintain' ? 'write' : role === 'triage' ? 'read' : role;
  const login = state.users.get(username.toLowerCase())?.login ?? username;
  return ex.send(200, { permission, role_name: role, user: { ...accountOf(login, 'User'), permissions: permissionsOf(role), role_name: role } });
}

/**
 * A user access token reaches only the repositories of the App's installations that the person can see, and
 * GitHub answers this endpoint only to someone with push access (403 "Must have push access…" otherwise).
 * Answers (and says so) when the request comes with a user token that may not ask.
 */
function userTokenRefused(state: FakeGithubState, ex: Exchange, repository: string): boolean {
  const userToken = /^(?:token|bearer)\s+(ghu_\S+)$/i.exec(ex.req.headers.authorization ?? '')?.[1];
  if (userToken === undefined) return false;
  const caller = state.oauth.loginOf(userToken);
  if (!caller) return ex.send(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
  const installed = [...state.installationRepos].some(([id, names]) => state.installations.get(id) !== null && names.some((f) => f.toLowerCase() === repository.toLowerCase()));
  const callerRole = state.permissions.has(roleKey(repository, caller)) ? state.roleOf(repository, caller) : 'read';
  if (!installed || callerRole === null || callerRole === undefined) return ex.send(404, { message: 'Not Found', documentation_url: DOCUMENTATION, status: '404' });
  if (ROLE_RANK[callerRole] < ROLE_RANK.write) return ex.send(403, { message: 'Must have push access to view collaborator permission.', documentation_url: DOCUMENTATION, status: '403' });
  return false;
}
