import type { PullRequestEventJob } from '@ephemera/schema';
import { reconcilePullRequest, type ApprovalChange } from '../pull-request-reconciler.js';
import type { HandlerContext, WebhookHandler, WebhookHandlers } from './handler.js';
import { installationRepositoriesRemoved } from './installation-repositories-removed.js';
import { installationDeleted, installationSuspend, installationUnsuspend } from './installation.js';

/**
 * Every pull_request event carries the whole PR, so each action is the same reconciliation of its snapshot
 * (opened: environment and first deployment; synchronize: a new deployment superseding older ones; closed,
 * converted_to_draft: teardown; reopened, ready_for_review: the preview comes back; edited: title and branch kept
 * current). Labels differ only in what they say about approval: the approval label added by someone trusted lets a
 * fork's current commit deploy, and removing it withdraws that. A pull_request_review event carries the whole PR
 * too: an approving review lets a fork's reviewed commit (`review.commit_id`) deploy, and dismissing it withdraws
 * that; other reviews are the snapshot alone.
 */
function reconcile<J extends PullRequestEventJob>(approval: (job: J, ctx: HandlerContext) => ApprovalChange = () => undefined): WebhookHandler<J> {
  return async (ctx, job) => [await reconcilePullRequest(ctx, job, approval(job, ctx))];
}

type ReviewJob = Extract<PullRequestEventJob, { event: 'pull_request_review' }>;

/** The reviewer: the review's author (the sender of a submitted review). */
export function reviewerOf(job: ReviewJob): string {
  return job.review.user?.login ?? job.sender.login;
}

/** The handler of every job name ingest produces; the type makes a missing or misspelt name a compile error. */
export const WEBHOOK_HANDLERS: WebhookHandlers = {
  'pull_request.opened': reconcile(),
  'pull_request.reopened': reconcile(),
  'pull_request.synchronize': reconcile(),
  'pull_request.closed': reconcile(),
  'pull_request.edited': reconcile(),
  'pull_request.ready_for_review': reconcile(),
  'pull_request.converted_to_draft': reconcile(),
  'pull_request.labeled': reconcile((job, ctx) => (job.label === ctx.settings.approveLabel ? { by: 'label', change: 'granted' } : undefined)),
  'pull_request.unlabeled': reconcile((job, ctx) => (job.label === ctx.settings.approveLabel ? { by: 'label', change: 'revoked' } : undefined)),
  'pull_request_review.submitted': reconcile<ReviewJob>((job) =>
    job.review.state === 'approved'
      ? { by: 'review', change: 'granted', reviewId: job.review.id, commitSha: job.review.commitId, reviewer: reviewerOf(job) }
      : undefined,
  ),
  'pull_request_review.dismissed': reconcile<ReviewJob>((job) => ({ by: 'review', change: 'revoked', reviewId: job.review.id })),
  'installation.deleted': installationDeleted,
  'installation.suspend': installationSuspend,
  'installation.unsuspend': installationUnsuspend,
  'installation_repositories.removed': installationRepositoriesRemoved,
};
