import type { PullRequestJob } from '@ephemera/schema';
import { reconcilePullRequest } from '../pull-request-reconciler.js';
import type { WebhookHandler } from './handler.js';

/** Merged or not, a closed pull request's environment is destroyed. */
export const pullRequestClosed: WebhookHandler<PullRequestJob> = {
  jobName: 'pull_request.closed',
  async handle(ctx, job) {
    return [await reconcilePullRequest(ctx, job)];
  },
};
