import type { Octokit } from '@octokit/rest';
import type { Logger } from '@ephemera/runtime';
import type { InstallationClients } from './installation-clients.js';

export type CommitState = 'pending' | 'success' | 'failure' | 'error';
export type DeploymentState = 'queued' | 'in_progress' | 'success' | 'failure' | 'error' | 'inactive';

export interface RepoRef {
  installationId: number;
  owner: string;
  repo: string;
}

/** Everything Ephemera tells GitHub. */
export interface GithubFeedback {
  readonly enabled: boolean;
  /** The id of the pull request's comment that contains `marker`, written by this App; null when there is none. */
  findComment(ref: RepoRef, prNumber: number, marker: string): Promise<number | null>;
  /** Creates a comment; its id, or null when feedback is off. */
  createComment(ref: RepoRef, prNumber: number, body: string): Promise<number | null>;
  /** Edits a comment; false when it no longer exists. */
  updateComment(ref: RepoRef, commentId: number, body: string): Promise<boolean>;
  /** Deletes a comment; one already gone is fine. */
  deleteComment(ref: RepoRef, commentId: number): Promise<void>;
  setCommitStatus(ref: RepoRef, sha: string, state: CommitState, description: string, targetUrl: string | null): Promise<void>;
  createDeployment(ref: RepoRef, sha: string, environment: string, description: string): Promise<number | null>;
  setDeploymentStatus(
    ref: RepoRef,
    deploymentId: number,
    state: DeploymentState,
    description: string,
    environmentUrl: string | null,
  ): Promise<void>;
}

/** The commit status context Ephemera reports under. */
export const STATUS_CONTEXT = 'ephemera/preview';

/** GitHub App feedback through @octokit/rest, as each installation. */
export class OctokitFeedback implements GithubFeedback {
  readonly enabled = true;

  constructor(private readonly clients: InstallationClients) {}

  private client(installationId: number): Octokit {
    return this.clients.for(installationId);
  }

  async findComment(ref: RepoRef, prNumber: number, marker: string): Promise<number | null> {
    const octokit = this.client(ref.installationId);
    for await (const { data } of octokit.paginate.iterator(octokit.rest.issues.listComments, { owner: ref.owner, repo: ref.repo, issue_number: prNumber, per_page: 100 })) {
      const mine = data.find((c) => c.user?.type === 'Bot' && (c.body ?? '').includes(marker));
      if (mine) return mine.id;
    }
    return null;
  }

  async createComment(ref: RepoRef, prNumber: number, body: string): Promise<number> {
    const { data } = await this.client(ref.installationId).rest.issues.createComment({ owner: ref.owner, repo: ref.repo, issue_number: prNumber, body });
    return data.id;
  }

  async updateComment(ref: RepoRef, commentId: number, body: string): Promise<boolean> {
    try {
      await this.client(ref.installationId).rest.issues.updateComment({ owner: ref.owner, repo: ref.repo, comment_id: commentId, body });
      return true;
    } catch (err) {
      if ((err as { status?: number }).status === 404) return false;
      throw err;
    }
  }

  async deleteComment(ref: RepoRef, commentId: number): Promise<void> {
    try {
      await this.client(ref.installationId).rest.issues.deleteComment({ owner: ref.owner, repo: ref.repo, comment_id: commentId });
    } catch (err) {
      if ((err as { status?: number }).status !== 404) throw err;
    }
  }

  async setCommitStatus(ref: RepoRef, sha: string, state: CommitState, description: string, targetUrl: string | null) {
    await this.client(ref.installationId).rest.repos.createCommitStatus({
      owner: ref.owner,
      repo: ref.repo,
      sha,
      state,
      context: STATUS_CONTEXT,
      description: description.slice(0, 140),
      ...(targetUrl ? { target_url: targetUrl } : {}),
    });
  }

  async createDeployment(ref: RepoRef, sha: string, environment: string, description: string): Promise<number | null> {
    const { data } = await this.client(ref.installationId).rest.repos.createDeployment({
      owner: ref.owner,
      repo: ref.repo,
      ref: sha,
      environment,
      description,
      auto_merge: false,
      required_contexts: [],
      transient_environment: true,
      production_environment: false,
    });
    return 'id' in data ? data.id : null;
  }

  async setDeploymentStatus(
    ref: RepoRef,
    deploymentId: number,
    state: DeploymentState,
    description: string,
    environmentUrl: string | null,
  ) {
    await this.client(ref.installationId).rest.repos.createDeploymentStatus({
      owner: ref.owner,
      repo: ref.repo,
      deployment_id: deploymentId,
      state,
      description: description.slice(0, 140),
      auto_inactive: state === 'success',
      ...(environmentUrl ? { environment_url: environmentUrl } : {}),
    });
  }
}

/** Without App credentials: logs what would have been sent, so the lifecycle still reads in the logs. */
export class LoggingFeedback implements GithubFeedback {
  readonly enabled = false;

  constructor(private readonly logger: Logger) {}

  async findComment(): Promise<null> {
    return null;
  }

  async createComment(ref: RepoRef, prNumber: number, body: string): Promise<null> {
    this.logger.info({ feedback: 'comment', repository: `${ref.owner}/${ref.repo}`, pr: prNumber, body }, 'would comment');
    return null;
  }

  async updateComment(ref: RepoRef, commentId: number, body: string): Promise<boolean> {
    this.logger.info({ feedback: 'comment', repository: `${ref.owner}/${ref.repo}`, commentId, body }, 'would edit comment');
    return true;
  }

  async deleteComment(): Promise<void> {}

  async setCommitStatus(ref: RepoRef, sha: string, state: CommitState, description: string, targetUrl: string | null) {
    this.logger.info({ feedback: 'commit_status', repository: `${ref.owner}/${ref.repo}`, sha, state, description, targetUrl }, 'would set commit status');
  }

  async createDeployment(ref: RepoRef, sha: string, environment: string) {
    this.logger.info({ feedback: 'deployment', repository: `${ref.owner}/${ref.repo}`, sha, environment }, 'would create deployment');
    return null;
  }

  async setDeploymentStatus(ref: RepoRef, deploymentId: number, state: DeploymentState, description: string, environmentUrl: string | null) {
    this.logger.info({ feedback: 'deployment_status', repository: `${ref.owner}/${ref.repo}`, deploymentId, state, description, environmentUrl }, 'would set deployment status');
  }
}

/** Rate limits and server errors are worth retrying; any other 4xx will fail the same way again. */
export function isRetryableGithubError(err: unknown): boolean {
  const e = err as { status?: number; response?: { headers?: Record<string, string> } };
  if (typeof e.status !== 'number') return true; // network errors, timeouts
  if (e.status >= 500 || e.status === 429) return true;
  if (e.status === 403 && e.response?.headers?.['x-ratelimit-remaining'] === '0') return true;
  return false;
}
