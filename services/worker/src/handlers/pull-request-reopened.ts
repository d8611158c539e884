import type { PullRequestJob } from '@ephemera/schema';
import { reconcilePullRequest } from '../pull-request-reconciler.js';
import type { WebhookHandler } from './handler.js';

/** A reopened pull request gets its environment back (same namespace, new deployment). */
export const pullRequestReopened: WebhookHandler<PullRequestJob> = {
  jobName: 'pull_request.reopened',
  async handle(ctx, job) {
    return [await reconcilePullRequest(ctx, job)];
  },
};
