import { createHash, randomBytes } from 'node:crypto';
import type { GithubAccess, ReachableRepository } from './session-store.js';

/** Where GitHub sends people back after "Sign in with GitHub": the App's callback URL is PUBLIC_URL with this path. */
export const GITHUB_SIGN_IN_CALLBACK_PATH = '/auth/github/callback';

export interface GithubSignInSettings {
  clientId: string;
  clientSecret: string;
  /** GitHub's web address (GITHUB_URL), where the OAuth pages are. */
  webUrl: string;
  /** GitHub's REST API (GITHUB_API_URL). */
  apiUrl: string;
  /** Where GitHub sends people back: PUBLIC_URL/auth/github/callback. */
  callbackUrl: string;
  /** Every call is abandoned after this long (GITHUB_REQUEST_TIMEOUT_MS). */
  timeoutMs: number;
}

export class GithubSignInError extends Error {
  override readonly name = 'GithubSignInError';
  constructor(
    message: string,
    /** GitHub's HTTP status when it answered; 401 means the token is no longer good. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** Permissions (a repository's `permissions` flags) that let a person redeploy or destroy its environments. */
const ACTING_PERMISSIONS = ['admin', 'maintain', 'push'] as const;
/**
 * The same, as the collaborator permission endpoint names them: its `permission` folds maintain into write (and a
 * custom role into the base role it extends).
 */
const ACTING_COLLABORATOR_PERMISSIONS: readonly string[] = ['admin', 'write'];
/** Pages of installations or repositories read at most, so one person cannot keep a request busy for long. */
const MAX_PAGES = 10;

/** A PKCE pair (RFC 7636): the verifier stays with the browser's sign-in, the S256 challenge goes to GitHub. */
export function newPkce(): { verifier: string; challenge: string } {
  // 32 random bytes: a 43-character verifier, the shortest RFC 7636 allows and 256 bits of it.
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/**
 * "Sign in with GitHub" through the GitHub App's OAuth credentials (the web application flow, with PKCE), what the
 * signed-in person reaches through the App's installations, their permission on one repository, and revoking their
 * token. Plain fetch with a timeout on every call; nothing here runs inside a database transaction or holds a lock.
 */
export class GithubSignIn {
  constructor(private readonly settings: GithubSignInSettings) {}

  /** GitHub's authorize page for this sign-in: its `state`, and the S256 challenge of its PKCE verifier. */
  authorizeUrl(state: string, codeChallenge: string): string {
    const params = new URLSearchParams({
      client_id: this.settings.clientId,
      redirect_uri: this.settings.callbackUrl,
      state,
      allow_signup: 'false',
      code_challenge: codeChallenge,
      code_challenge_method: 'S256',
    });
    return `${this.settings.webUrl.replace(/\/$/, '')}/login/oauth/authorize?${params}`;
  }

  private async call(url: string, init: RequestInit = {}): Promise<Response> {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(this.settings.timeoutMs) });
    } catch (err) {
      throw new GithubSignInError(`GitHub did not answer: ${(err as Error).message}`);
    }
  }

  /** Exchanges the callback's code, with the sign-in's PKCE verifier, for the person's user access token. */
  async exchange(code: string, codeVerifier: string): Promise<string> {
    const res = await this.call(`${this.settings.webUrl.replace(/\/$/, '')}/login/oauth/access_token`, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: JSON.stringify({
        client_id: this.settings.clientId,
        client_secret: this.settings.clientSecret,
        code,
        redirect_uri: this.settings.callbackUrl,
        code_verifier: codeVerifier,
      }),
    });
    const body = (await res.json().catch(() => ({}))) as { access_token?: string; error?: string; error_description?: string };
    if (!res.ok || !body.access_token) throw new GithubSignInError(`GitHub refused the sign-in: ${body.error_description ?? body.error ?? res.status}`, res.status);
    return body.access_token;
  }

  private async api<T>(token: string, path: string): Promise<{ body: T; next: string | null }> {
    const url = path.startsWith('http') ? path : `${this.settings.apiUrl.replace(/\/$/, '')}${path}`;
    const res = await this.call(url, { headers: { accept: 'application/vnd.github+json', authorization: `Bearer ${token}`, 'x-github-api-version': '2022-11-28' } });
    if (!res.ok) throw new GithubSignInError(`GitHub answered ${res.status} to ${new URL(url).pathname}`, res.status);
    const next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1] ?? null;
    return { body: (await res.json()) as T, next };
  }

  /**
   * Whether GitHub says, now, that `login` may act on `repository` (`owner/name`): their permission there is admin or
   * write (maintain counts as write). Asked with their own token, so GitHub answers for what the App may see too: 404
   * (the App no longer reaches the repository) and 403 (GitHub answers this only to someone with push access) are a
   * no. Throws {@link GithubSignInError} when GitHub did not answer either way (status 401: the token is no longer good).
   */
  async mayAct(token: string, repository: string, login: string): Promise<boolean> {
    const [owner, name] = repository.split('/') as [string, string];
    const path = `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}/collaborators/${encodeURIComponent(login)}/permission`;
    try {
      const { body } = await this.api<{ permission?: string }>(token, path);
      return ACTING_COLLABORATOR_PERMISSIONS.includes(body.permission ?? '');
    } catch (err) {
      if (err instanceof GithubSignInError && (err.status === 403 || err.status === 404)) return false;
      throw err;
    }
  }

  /**
   * Revokes the person's user access token (`DELETE /applications/{client_id}/token`, as the App: Basic auth with the
   * client id and secret). A token GitHub no longer knows (404) is already what revoking makes it.
   */
  async revoke(token: string): Promise<void> {
    const basic = Buffer.from(`${this.settings.clientId}:${this.settings.clientSecret}`).toString('base64');
    const url = `${this.settings.apiUrl.replace(/\/$/, '')}/applications/${encodeURIComponent(this.settings.clientId)}/token`;
    const res = await this.call(url, {
      method: 'DELETE',
      headers: { accept: 'application/vnd.github+json', authorization: `Basic ${basic}`, 'content-type': 'application/json', 'x-github-api-version': '2022-11-28' },
      body: JSON.stringify({ access_token: token }),
    });
    await res.arrayBuffer();
    if (res.status !== 204 && res.status !== 404) throw new GithubSignInError(`GitHub answered ${res.status} to revoking a token`, res.status);
  }

  async login(token: string): Promise<string> {
    return (await this.api<{ login: string }>(token, '/user')).body.login;
  }

  /** Every repository the person reaches through the App's installations, with whether they may act on it. */
  async access(token: string): Promise<GithubAccess> {
    const installations: number[] = [];
    let next: string | null = '/user/installations?per_page=100';
    for (let page = 0; next && page < MAX_PAGES; page++) {
      const answer: { body: { installations: Array<{ id: number }> }; next: string | null } = await this.api(token, next);
      installations.push(...answer.body.installations.map((i) => i.id));
      next = answer.next;
    }
    const repositories: ReachableRepository[] = [];
    for (const id of installations) {
      next = `/user/installations/${id}/repositories?per_page=100`;
      for (let page = 0; next && page < MAX_PAGES; page++) {
        const answer: { body: { repositories: Array<{ id: number; full_name: string; permissions?: Record<string, boolean> }> }; next: string | null } =
          await this.api(token, next);
        for (const r of answer.body.repositories) {
          repositories.push({ id: r.id, fullName: r.full_name, canAct: ACTING_PERMISSIONS.some((p) => r.permissions?.[p] === true) });
        }
        next = answer.next;
      }
    }
    return { fetchedAt: Date.now(), repositories };
  }
}
