import type { PullRequestJob } from '@ephemera/schema';
import { reconcilePullRequest } from '../pull-request-reconciler.js';
import type { WebhookHandler } from './handler.js';

/** New commits: a new deployment; older ones still queued or running are superseded. */
export const pullRequestSynchronize: WebhookHandler<PullRequestJob> = {
  jobName: 'pull_request.synchronize',
  async handle(ctx, job) {
    return [await reconcilePullRequest(ctx, job)];
  },
};
