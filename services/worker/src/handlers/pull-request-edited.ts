import type { PullRequestJob } from '@ephemera/schema';
import { reconcilePullRequest } from '../pull-request-reconciler.js';
import type { WebhookHandler } from './handler.js';

/** Title or base changed: kept current on the environment. */
export const pullRequestEdited: WebhookHandler<PullRequestJob> = {
  jobName: 'pull_request.edited',
  async handle(ctx, job) {
    return [await reconcilePullRequest(ctx, job)];
  },
};
