import type { PullRequestJob } from '@ephemera/schema';
import { reconcilePullRequest } from '../pull-request-reconciler.js';
import type { WebhookHandler } from './handler.js';

/** A new pull request: its environment, first deployment and comment. */
export const pullRequestOpened: WebhookHandler<PullRequestJob> = {
  jobName: 'pull_request.opened',
  async handle(ctx, job) {
    return [await reconcilePullRequest(ctx, job)];
  },
};
