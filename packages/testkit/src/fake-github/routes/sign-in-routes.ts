import type { Exchange } from '../exchange.js';
import type { FakeGithubState } from '../fake-github-state.js';

/**
 * "Sign in with GitHub": the authorize page, the token endpoint, and revoking a user token
 * (`DELETE /applications/{client_id}/token`).
 */
export function signInRoutes(state: FakeGithubState, ex: Exchange): boolean {
  if (ex.method === 'GET' && ex.path === '/login/oauth/authorize') {
    const outcome = state.oauth.authorize(ex.query);
    return outcome.status === 302 ? ex.redirect(outcome.location) : ex.sendText(outcome.status, outcome.text);
  }
  if (ex.method === 'POST' && ex.path === '/login/oauth/access_token') return accessToken(state, ex);
  const m = ex.method === 'DELETE' ? /^\/applications\/([^/]+)\/token$/.exec(ex.path) : null;
  if (m) return revokeToken(state, ex, m[1]!);
  return false;
}

function accessToken(state: FakeGithubState, ex: Exchange): true {
  // Parameters may come in the query string or the body, as GitHub accepts both.
  const params: Record<string, string | undefined> = Object.fromEntries(ex.query);
  for (const [k, v] of Object.entries(ex.body ?? {})) if (v !== undefined && v !== null) params[k] = String(v);
  const answer = state.oauth.exchange(params);
  // Always 200, errors included; JSON only when asked for. The date is the fake's clock, from which clients
  // reckon when the token expires.
  const headers = { date: new Date(state.now()).toUTCString(), 'x-github-request-id': `fake-${state.requests.length}` };
  if (/\bapplication\/json\b/i.test(ex.req.headers.accept ?? '')) return ex.send(200, answer, headers);
  const text = new URLSearchParams(Object.entries(answer).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]): [string, string] => [k, String(v)])).toString();
  return ex.sendText(200, text, { ...headers, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' });
}

function revokeToken(state: FakeGithubState, ex: Exchange, encodedClientId: string): true {
  // The App's own credentials as Basic auth, the token in the body (GitHub's "Delete an app token").
  const documentation = 'https://docs.github.com/rest/apps/oauth-applications#delete-an-app-token';
  const basic = /^basic\s+(\S+)$/i.exec(ex.req.headers.authorization ?? '')?.[1];
  if (!basic) return ex.send(401, { message: 'Requires authentication', documentation_url: documentation, status: '401' });
  const credentials = Buffer.from(basic, 'base64').toString('utf8');
  const colon = credentials.indexOf(':');
  const [clientId, clientSecret] = colon < 0 ? [credentials, ''] : [credentials.slice(0, colon), credentials.slice(colon + 1)];
  const token = ex.body?.access_token;
  if (typeof token !== 'string' || token === '') return ex.send(422, { message: 'Validation Failed', errors: [{ resource: 'OauthAccess', field: 'access_token', code: 'missing_field' }], documentation_url: documentation, status: '422' });
  // Credentials of another App, or for another client id than the path's: GitHub does not say which exist.
  const outcome = clientId === decodeURIComponent(encodedClientId) ? state.oauth.revoke(clientId, clientSecret, token) : 'bad-credentials';
  // A token that is not (or no longer) one of the App's: 404, as its sibling "Check a token" answers.
  if (outcome !== 'revoked') return ex.send(404, { message: 'Not Found', documentation_url: documentation, status: '404' });
  return ex.send(204, undefined);
}
