import type { Logger } from '@ephemera/runtime';
import type { PullRequestJob } from '@ephemera/schema';
import { isRetryableGithubError } from './github-feedback.js';
import { pullRequestJobFromGithub, type GithubPullRequest } from './pull-request-snapshot.js';
import type { InstallationClients } from './installation-clients.js';

/** Repository roles that may put code into a preview. */
const WRITE_ROLES = new Set(['admin', 'maintain', 'write']);

export type InstallationState = 'active' | 'suspended' | 'gone';

/**
 * What Ephemera asks GitHub before it trusts an event: whether a person may write to a repository (a fork's code
 * runs only with their say-so), and whether an installation or a repository is really gone (a replayed or forged
 * destructive event changes nothing). Called before a delivery's transaction, never inside it.
 *
 * Transient failures (5xx, rate limits, timeouts) throw, so the delivery is retried; anything else is an answer.
 */
export interface GithubChecks {
  /** Whether `login` has admin, maintain or write permission on the repository; an error or 404 is false. */
  canWrite(installationId: number, repositoryFullName: string, login: string): Promise<boolean>;
  /** What GitHub says of the installation now; null when it cannot be asked (no App credentials). */
  installationState(installationId: number): Promise<InstallationState | null>;
  /** The repositories the installation can still reach; null when it cannot be asked. */
  installationRepositories(installationId: number): Promise<Set<string> | null>;
  /** The pull request as GitHub reports it now; null when it cannot be asked (no App credentials, no installation, gone). */
  pullRequest(installationId: number | null, repository: PullRequestJob['repository'], prNumber: number): Promise<PullRequestJob['pullRequest'] | null>;
}

/** The checks through the App: permissions as the installation, installations with the App's JWT. */
export class OctokitChecks implements GithubChecks {
  private readonly permissions = new Map<string, { value: boolean; expires: number }>();

  constructor(
    private readonly clients: InstallationClients,
    /** PERMISSION_CACHE_SECONDS: how long an answer about a person's permission is reused. */
    private readonly cacheSeconds: number,
    private readonly logger: Logger,
  ) {}

  async canWrite(installationId: number, repositoryFullName: string, login: string): Promise<boolean> {
    const key = `${installationId}:${repositoryFullName.toLowerCase()}:${login.toLowerCase()}`;
    const cached = this.permissions.get(key);
    if (cached && cached.expires > Date.now()) return cached.value;
    const [owner, repo] = repositoryFullName.split('/') as [string, string];
    let value: boolean;
    try {
      const { data } = await this.clients.for(installationId).rest.repos.getCollaboratorPermissionLevel({ owner, repo, username: login });
      // `permission` folds maintain into write and triage into read; `role_name` keeps the role itself.
      value = WRITE_ROLES.has(data.role_name) || data.permission === 'admin' || data.permission === 'write';
    } catch (err) {
      if (isRetryableGithubError(err)) throw err;
      this.logger.info({ repository: repositoryFullName, login, status: (err as { status?: number }).status }, 'permission check refused; not trusted');
      value = false;
    }
    if (this.permissions.size > 10_000) this.permissions.clear();
    this.permissions.set(key, { value, expires: Date.now() + this.cacheSeconds * 1000 });
    return value;
  }

  async installationState(installationId: number): Promise<InstallationState> {
    try {
      const { data } = await this.clients.app().rest.apps.getInstallation({ installation_id: installationId });
      return data.suspended_at ? 'suspended' : 'active';
    } catch (err) {
      if ((err as { status?: number }).status === 404) return 'gone';
      throw err;
    }
  }

  async pullRequest(installationId: number | null, repository: PullRequestJob['repository'], prNumber: number): Promise<PullRequestJob['pullRequest'] | null> {
    if (installationId === null) return null;
    try {
      const { data } = await this.clients.for(installationId).rest.pulls.get({ owner: repository.ownerLogin, repo: repository.name, pull_number: prNumber });
      const job = pullRequestJobFromGithub(
        installationId,
        { id: repository.id, full_name: repository.fullName, name: repository.name, owner: { login: repository.ownerLogin } },
        data as unknown as GithubPullRequest,
      );
      return job?.pullRequest ?? null;
    } catch (err) {
      if (isRetryableGithubError(err)) throw err;
      this.logger.info({ repository: repository.fullName, pr: prNumber, status: (err as { status?: number }).status }, 'pull request lookup refused');
      return null;
    }
  }

  async installationRepositories(installationId: number): Promise<Set<string>> {
    try {
      const octokit = this.clients.for(installationId);
      const repos = await octokit.paginate(octokit.rest.apps.listReposAccessibleToInstallation, { per_page: 100 });
      return new Set(repos.map((r) => r.full_name.toLowerCase()));
    } catch (err) {
      // No token for an installation that is gone: it reaches nothing.
      if ((err as { status?: number }).status === 404) return new Set();
      throw err;
    }
  }
}

/** Without App credentials nothing can be confirmed: no fork is trusted and no destructive event is believed. */
export class NoGithubChecks implements GithubChecks {
  async canWrite(): Promise<boolean> {
    return false;
  }
  async installationState(): Promise<null> {
    return null;
  }
  async installationRepositories(): Promise<null> {
    return null;
  }
  async pullRequest(): Promise<null> {
    return null;
  }
}
