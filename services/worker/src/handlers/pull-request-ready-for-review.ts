import type { PullRequestJob } from '@ephemera/schema';
import { reconcilePullRequest } from '../pull-request-reconciler.js';
import type { WebhookHandler } from './handler.js';

/** A draft became ready: it gets a preview now. */
export const pullRequestReadyForReview: WebhookHandler<PullRequestJob> = {
  jobName: 'pull_request.ready_for_review',
  async handle(ctx, job) {
    return [await reconcilePullRequest(ctx, job)];
  },
};
