import type { GithubAccess, ReachableRepository } from './session-store.js';

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

/** Permissions that let a person redeploy or destroy an environment of the repository. */
const ACTING_PERMISSIONS = ['admin', 'maintain', 'push'] as const;
/** Pages of installations or repositories read at most, so one person cannot keep a request busy for long. */
const MAX_PAGES = 10;

/**
 * "Sign in with GitHub" through the GitHub App's OAuth credentials (the web application flow), and what the signed-in
 * person reaches through the App's installations. Plain fetch with a timeout on every call; nothing here runs inside
 * a database transaction.
 */
export class GithubSignIn {
  constructor(private readonly settings: GithubSignInSettings) {}

  authorizeUrl(state: string): string {
    const params = new URLSearchParams({ client_id: this.settings.clientId, redirect_uri: this.settings.callbackUrl, state, allow_signup: 'false' });
    return `${this.settings.webUrl.replace(/\/$/, '')}/login/oauth/authorize?${params}`;
  }

  private async call(url: string, init: RequestInit = {}): Promise<Response> {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(this.settings.timeoutMs) });
    } catch (err) {
      throw new GithubSignInError(`GitHub did not answer: ${(err as Error).message}`);
    }
  }

  /** Exchanges the callback's code for the person's user access token. */
  async exchange(code: string): Promise<string> {
    const res = await this.call(`${this.settings.webUrl.replace(/\/$/, '')}/login/oauth/access_token`, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: this.settings.clientId, client_secret: this.settings.clientSecret, code, redirect_uri: this.settings.callbackUrl }),
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
