import { accountIdOf, accountOf } from './account-of.js';
import type { FakeGithubState } from './fake-github-state.js';

/** An installation as every endpoint shows it (`GET /app/installations…`, `GET /user/installations`). */
export function installationView(state: FakeGithubState, id: number): Record<string, unknown> {
  const suspended = state.installationState(id) === 'suspended';
  const account = state.installationAccount(id);
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
    suspended_at: suspended ? '2026-06-01T00:00:00Z' : null,
    suspended_by: suspended ? { login: 'acme-admin', id: 2, type: 'User' } : null,
  };
}
