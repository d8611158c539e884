import { isPullRequestEventJob, type PullRequestEventJob } from '@ephemera/schema';
import type { GithubChecks } from '../github/github-checks.js';
import { approvalWays, isFromFork, type PreviewSettings } from '../pull-request-reconciler.js';
import type { StateJob } from './apply-delivery.js';
import { NO_FACTS, type DeliveryFacts } from './handler.js';

type ReviewJob = Extract<PullRequestEventJob, { event: 'pull_request_review' }>;

/** The reviewer: the review's author (the sender of a submitted review). */
export function reviewerOf(job: ReviewJob): string {
  return job.review.user?.login ?? job.sender.login;
}

/**
 * What GitHub says that a delivery's effect depends on: for a pull request from a fork, whether the sender (a
 * review's author) may put code into a preview (asked only for the events that can bring new code or approve it, in
 * a way FORK_APPROVAL counts); for destructive installation events, whether GitHub confirms them.
 */
export async function gatherFacts(checks: GithubChecks, settings: PreviewSettings, data: StateJob): Promise<DeliveryFacts> {
  if (isPullRequestEventJob(data)) {
    const ways = approvalWays(settings);
    let login = data.sender.login;
    let bot = data.sender.type === 'Bot';
    let asks: boolean;
    if (data.event === 'pull_request') {
      const bringsCode = data.action === 'opened' || data.action === 'synchronize';
      asks = bringsCode || (ways.label && data.action === 'labeled' && data.label === settings.approveLabel);
    } else {
      asks = ways.review && data.action === 'submitted' && data.review.state === 'approved';
      login = reviewerOf(data);
      bot ||= data.review.user?.type === 'Bot';
    }
    if (!isFromFork(data.pullRequest) || !asks) return NO_FACTS;
    const senderTrusted = !bot && data.installationId !== null && (await checks.canWrite(data.installationId, data.repository.fullName, login));
    return { ...NO_FACTS, senderTrusted };
  }
  if (data.event === 'installation') {
    if (data.action !== 'deleted' && data.action !== 'suspend') return NO_FACTS;
    return { ...NO_FACTS, installationState: await checks.installationState(data.installationId) };
  }
  const reachable = await checks.installationRepositories(data.installationId);
  return { ...NO_FACTS, confirmedRemoved: reachable === null ? null : data.repositoriesRemoved.filter((r) => !reachable.has(r.toLowerCase())) };
}
