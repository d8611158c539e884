import { createHash } from 'node:crypto';

export type AccountType = 'User' | 'Organization' | 'Bot';

/**
 * The GitHub id the fakes give an account (person or organization): stable per login in any case, since GitHub's
 * logins are case-insensitive and its ids never change, so every endpoint and every run agree on it.
 */
export function accountIdOf(login: string): number {
  return 10_000 + (createHash('sha256').update(`account:${login.toLowerCase()}`).digest().readUInt32BE(0) % 90_000_000);
}

/** GitHub's legacy global node id (`node_id`): base64 of the type name's length, the name and the database id. */
export function nodeIdOf(typeName: string, id: number): string {
  return Buffer.from(`${String(typeName.length).padStart(2, '0')}:${typeName}${id}`).toString('base64');
}

/** An account as GitHub nests it in other objects (`owner`, `account`, `user`): its "simple user" shape. */
export function accountOf(login: string, type: AccountType = 'User'): Record<string, unknown> {
  const id = accountIdOf(login);
  // Organizations too are listed under /users/ in this shape.
  const api = `https://api.github.com/users/${login}`;
  return {
    login,
    id,
    node_id: nodeIdOf(type, id),
    avatar_url: `https://avatars.githubusercontent.com/u/${id}?v=4`,
    gravatar_id: '',
    url: api,
    html_url: `https://github.com/${login}`,
    followers_url: `${api}/followers`,
    following_url: `${api}/following{/other_user}`,
    gists_url: `${api}/gists{/gist_id}`,
    starred_url: `${api}/starred{/owner}{/repo}`,
    subscriptions_url: `${api}/subscriptions`,
    organizations_url: `${api}/orgs`,
    repos_url: `${api}/repos`,
    events_url: `${api}/events{/privacy}`,
    received_events_url: `${api}/received_events`,
    type,
    user_view_type: 'public',
    site_admin: false,
  };
}
