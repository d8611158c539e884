import type { AccountType } from './account-of.js';
import { AppManifestFlow } from './app-manifest-flow.js';
import { CommitChecks } from './commit-checks.js';
import type { GithubRole } from './github-role.js';
import { OAuthWebFlow } from './oauth-web-flow.js';
import { repositoryView } from './repository-view.js';
import type { FakeDelivery } from './webhook-deliveries.js';

export interface RecordedRequest {
  method: string;
  path: string;
  body: Record<string, unknown> | null;
  authorization: string | undefined;
  /** When it arrived (ms since the epoch). */
  at: number;
}

export interface RateLimit {
  method?: string;
  path: RegExp;
  kind: 'secondary' | 'primary' | '429';
  wait: number;
  until: number | null;
}

export type InstallationState = 'active' | 'suspended' | null;

/** Everything the fake GitHub holds, shared by its routes and its test controls. */
export class FakeGithubState {
  readonly requests: RecordedRequest[] = [];
  readonly failures: Array<{ pattern: RegExp; status: number; count: number }> = [];
  readonly rateLimits: RateLimit[] = [];
  readonly comments = new Map<number, { body: string; repository: string; issue: number }>();
  /** Roles by `owner/name:login`, lowercased. */
  readonly permissions = new Map<string, GithubRole | null>();
  readonly installations = new Map<number, InstallationState>();
  readonly installationRepos = new Map<number, string[]>();
  readonly installationAccounts = new Map<number, { login: string; type: AccountType }>();
  readonly bot = { login: 'ephemera[bot]', id: 4242, type: 'Bot' };
  readonly deliveries: FakeDelivery[] = [];
  webhook: { url: string; secret: string } | null = null;
  nextDeliveryId = 1;
  clockOffset = 0;
  readonly pulls = new Map<string, Map<number, Record<string, unknown>>>();
  /** People the fake knows, by lowercased login: their login as spelled and what `GET /user` shows. */
  readonly users = new Map<string, { login: string; name: string | null; email: string | null }>();
  readonly userInstallations = new Map<string, number[]>();
  readonly files = new Map<string, string>();
  baseUrl = '';
  readonly oauth = new OAuthWebFlow(() => this.now());
  readonly manifests = new AppManifestFlow(
    () => this.now(),
    () => this.baseUrl,
  );
  readonly checks = new CommitChecks(
    () => this.now(),
    (fullName) => repositoryView(this, fullName),
  );
  private nextId = 1000;

  /** GitHub's clock: this machine's, moved on by the tests. */
  now(): number {
    return Date.now() + this.clockOffset;
  }

  /** An id for a new comment, status or deployment. */
  newId(): number {
    return this.nextId++;
  }

  knowUser(login: string) {
    const key = login.toLowerCase();
    if (!this.users.has(key)) this.users.set(key, { login, name: null, email: null });
    return this.users.get(key)!;
  }

  roleOf(repository: string, login: string): GithubRole | null | undefined {
    return this.permissions.get(roleKey(repository, login));
  }

  /** Only a role given explicitly reaches a repository through the App: an unset one is a public repository's read. */
  reaches(repository: string, login: string): boolean {
    const role = this.roleOf(repository, login);
    return role !== undefined && role !== null && role !== 'none';
  }

  accountTypeOf(login: string): AccountType {
    return [...this.installationAccounts.values()].find((a) => a.login.toLowerCase() === login.toLowerCase())?.type ?? (this.users.has(login.toLowerCase()) ? 'User' : 'Organization');
  }

  installationAccount(id: number): { login: string; type: AccountType } {
    const set = this.installationAccounts.get(id);
    if (set) return set;
    const login = this.installationRepos.get(id)?.[0]?.split('/')[0] ?? 'acme';
    return { login, type: this.accountTypeOf(login) };
  }

  /** An installation's state; one never set exists, active. */
  installationState(id: number): InstallationState {
    return this.installations.has(id) ? this.installations.get(id)! : 'active';
  }

  /** The installations a person's user token sees, by id, leaving out uninstalled ones. */
  installationsOf(login: string): number[] {
    const ids = new Set(this.userInstallations.get(login.toLowerCase()) ?? []);
    for (const [id, fullNames] of this.installationRepos) if (fullNames.some((f) => this.reaches(f, login))) ids.add(id);
    return [...ids].filter((id) => this.installations.get(id) !== null).sort((a, b) => a - b);
  }
}

/** Where a person's role on a repository is kept: GitHub's names are case-insensitive. */
export function roleKey(repository: string, login: string): string {
  return `${repository.toLowerCase()}:${login.toLowerCase()}`;
}

/** Where a file of a repository at a ref is kept. */
export function fileKey(repository: string, ref: string, path: string): string {
  return `${repository.toLowerCase()}@${ref}:${path}`;
}
