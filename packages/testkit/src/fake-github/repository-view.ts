import { repositoryIdOf } from '../pull-request-payload.js';
import { accountOf, nodeIdOf } from './account-of.js';
import type { FakeGithubState } from './fake-github-state.js';

/** A repository as GitHub lists it; public, as the collaborator permission's default `read` implies. */
export function repositoryView(state: FakeGithubState, fullName: string): Record<string, unknown> {
  const [owner, name] = fullName.split('/') as [string, string];
  const id = repositoryIdOf(fullName);
  return {
    id,
    node_id: nodeIdOf('Repository', id),
    name,
    full_name: fullName,
    private: false,
    owner: accountOf(owner, state.accountTypeOf(owner)),
    html_url: `https://github.com/${fullName}`,
    description: null,
    fork: false,
    url: `https://api.github.com/repos/${fullName}`,
    archived: false,
    disabled: false,
    visibility: 'public',
    default_branch: 'main',
  };
}
