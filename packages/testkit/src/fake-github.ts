import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ManifestApp } from './fake-github/app-manifest-flow.js';
import type { CheckRunChange, NewCheckRun, NewCommitStatus } from './fake-github/commit-checks.js';
import { FakeGithubState, type RecordedRequest } from './fake-github/fake-github-state.js';
import type { GithubRole } from './fake-github/github-role.js';
import type { OAuthAppSettings } from './fake-github/oauth-web-flow.js';
import { router } from './fake-github/router.js';
import { testControls } from './fake-github/test-controls.js';
import type { FakeDelivery } from './fake-github/webhook-deliveries.js';

export { accountIdOf } from './fake-github/account-of.js';
export type { OAuthAppSettings } from './fake-github/oauth-web-flow.js';
export type { ManifestApp } from './fake-github/app-manifest-flow.js';
export { appIdOf } from './fake-github/commit-checks.js';
export type { CheckRunChange, CheckRunConclusion, CheckRunStatus, CommitStatusState, NewCheckRun, NewCommitStatus } from './fake-github/commit-checks.js';
export type { GithubRole } from './fake-github/github-role.js';

export interface FakeGithub {
  url: string;
  requests: RecordedRequest[];
  /** Answers the next `count` requests whose path matches with `status` (to exercise retries and drops). */
  failNext(pattern: RegExp, status: number, count?: number): void;
  /** A file of `owner/name` at commit `ref`, served by the contents API; `null` removes it. */
  setFile(repository: string, ref: string, path: string, text: string | null): void;
  /**
   * A person's role on a repository (`GET …/collaborators/{username}/permission`); unset: `read`, as anyone may
   * read a public repository; `null`: 404. A role set here (other than `none`) is also what makes the repository
   * reachable for the person's user access token (`GET /user/installations/{id}/repositories`). Asked with a user
   * access token, the permission endpoint answers as GitHub does: 404 for a repository no installation of the App
   * reaches, 403 unless the token's own person has push access there.
   */
  setPermission(repository: string, login: string, role: GithubRole | null): void;
  /**
   * An installation as `GET /app/installations/{id}` shows it: `suspended` sets `suspended_at`; `null` means
   * uninstalled (404, and no more tokens). Installations not set exist, active. `account` is who installed the
   * App; unset: the owner of the installation's first repository, else the organization `acme`.
   */
  setInstallation(id: number, state: 'active' | 'suspended' | null, account?: { login: string; type?: 'User' | 'Organization' }): void;
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
  /**
   * The App's OAuth credentials for "Sign in with GitHub" (`/login/oauth/authorize`, with PKCE's S256
   * `code_challenge` when given; `/login/oauth/access_token`, which then wants its `code_verifier`;
   * `DELETE /applications/{client_id}/token`, which revokes a user token given the credentials as Basic auth);
   * until set, the authorize page knows no client_id and the token endpoint refuses every client.
   */
  setOAuthApp(app: OAuthAppSettings): void;
  /**
   * Who is signed in to GitHub in the browser: the authorize page consents at once and hands this person's code to
   * the callback (GitHub's own `login` parameter is only a hint on its sign-in page, and the fake ignores it as the
   * signed-in session does). `null`: nobody, and the page refuses. `profile` is what `GET /user` shows besides the
   * login.
   */
  setOAuthUser(login: string | null, profile?: { name?: string | null; email?: string | null }): void;
  /**
   * What a person reaches through the App, replacing what was set for them before: the repositories with their
   * role on each (as {@link FakeGithub.setPermission} sets it, so the collaborator permission endpoint agrees) and
   * installations they can see even without a repository in them (an account they own or administer). The user
   * token sees an installation when it is listed here or holds a repository the person reaches, and sees only those
   * repositories in it.
   */
  setUserAccess(login: string, access: { installations?: number[]; repositories?: Record<string, GithubRole> }): void;
  /**
   * A new check run on commit `sha` of `owner/name`, as an App (`app`, a slug; GitHub Actions when unset) creates
   * one; a re-run is another call with the same name, which `GET …/commits/{ref}/check-runs` then shows instead of
   * the earlier run unless asked for `filter=all`. Returns the run's id. A run is completed exactly when it has a
   * conclusion, as GitHub requires.
   */
  addCheckRun(repository: string, sha: string, run: NewCheckRun): number;
  /** Moves a check run on (a conclusion completes it and sets `completed_at`, as on GitHub). */
  updateCheckRun(id: number, change: CheckRunChange): void;
  /**
   * A commit status set by CI (`POST /repos/{o}/{r}/statuses/{sha}` records the App's own the same way): the combined
   * status (`GET …/commits/{ref}/status`) shows the newest of each context.
   */
  addCommitStatus(repository: string, sha: string, status: NewCommitStatus): void;
  /**
   * The Apps registered from a manifest, oldest first, with the credentials GitHub hands out once. The registration
   * page (`POST /settings/apps/new` or `/organizations/{org}/settings/apps/new`, the `manifest` field, `?state=`) shows
   * the manifest with the name editable, for the person signed in ({@link FakeGithub.setOAuthUser}); its button
   * registers the App and sends the browser to `redirect_url` with a `code` and the `state`.
   * `POST /app-manifests/{code}/conversions` trades a code once, within the hour, else 404. A registered App's webhook
   * becomes where {@link FakeGithub.deliver} sends, signed with its secret, as GitHub then delivers to it.
   */
  apps: readonly ManifestApp[];
  close(): Promise<void>;
}

/**
 * A local stand-in for GitHub's REST API, speaking its shapes for what Ephemera calls: App installations and
 * their tokens and repositories, collaborator permissions, issue comments, commit statuses, deployments and
 * deployment statuses, repository files through the contents API, and the rate limits' answers. It also serves
 * "Sign in with GitHub": the web application flow's pages (on github.com, served here from the same base URL as the
 * API) and what a user access token reads: the person, and the App's installations and repositories they reach;
 * and registering a GitHub App from a manifest (the registration page and the code's conversion).
 * It records every request, with client secrets, refresh tokens and access tokens in bodies masked.
 */
export async function startFakeGithub(): Promise<FakeGithub> {
  const state = new FakeGithubState();
  const server = http.createServer(router(state));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  state.baseUrl = `http://127.0.0.1:${port}`;
  return {
    url: state.baseUrl,
    ...testControls(state),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
