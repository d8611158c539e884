import { randomUUID } from 'node:crypto';
import { trimWebhookPayload, type PullRequestJob } from '@ephemera/schema';

/** A repository as GitHub's REST API and webhooks describe it (the fields Ephemera reads). */
export interface GithubRepository {
  id: number;
  full_name: string;
  name: string;
  owner: { login: string };
}

/** A pull request as GitHub's REST API returns it (`GET /repos/{owner}/{repo}/pulls/{number}`). */
export type GithubPullRequest = Record<string, unknown> & { number: number; updated_at: string; state: string };

/**
 * GitHub's record of a pull request as the job a webhook would have made of it, through the same trimming (so the
 * same validation): what the resync and the settling of same-second conflicts apply. It carries no sender's say-so:
 * the pull request's author stands as sender, and grants no trust by it.
 */
export function pullRequestJobFromGithub(installationId: number, repository: GithubRepository, pr: GithubPullRequest): PullRequestJob | null {
  const user = pr.user as { id: number; login: string };
  return trimWebhookPayload(
    { event: 'pull_request', deliveryId: randomUUID(), receivedAt: new Date() },
    {
      action: 'edited',
      installation: { id: installationId },
      repository: { id: repository.id, full_name: repository.full_name, name: repository.name, owner: { login: repository.owner.login } },
      pull_request: pr,
      sender: { id: user.id, login: user.login, type: 'User' },
    },
  ) as PullRequestJob | null;
}
