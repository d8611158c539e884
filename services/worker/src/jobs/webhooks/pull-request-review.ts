import type { PullRequestReviewJob } from '@ephemera/schema';
import { applyDelivery } from '../../handlers/apply-delivery.js';
import { reviewerOf } from '../../handlers/delivery-facts.js';
import { webhookJobs } from '../../handlers/webhook-jobs.js';
import { reconcilePullRequest, type ApprovalChange } from '../../pull-request-reconciler.js';

/** An approving review lets a fork's reviewed commit (`review.commit_id`) deploy, and dismissing it withdraws that. */
function approvalOf(job: PullRequestReviewJob): ApprovalChange {
  if (job.action === 'dismissed') return { by: 'review', change: 'revoked', reviewId: job.review.id };
  return job.review.state === 'approved'
    ? { by: 'review', change: 'granted', reviewId: job.review.id, commitSha: job.review.commitId, reviewer: reviewerOf(job) }
    : undefined;
}

/**
 * `pull_request_review.*`: a review carries the whole PR too, reconciled as a pull_request event's snapshot, with
 * what the review says about approval; other reviews are the snapshot alone.
 */
export const pullRequestReviewJobs = webhookJobs('pull_request_review', (data, ctx) =>
  applyDelivery(ctx, async (handlerCtx, job: PullRequestReviewJob) => [await reconcilePullRequest(handlerCtx, job, approvalOf(job))], data),
);
