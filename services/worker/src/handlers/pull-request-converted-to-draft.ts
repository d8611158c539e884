import type { PullRequestJob } from '@ephemera/schema';
import { reconcilePullRequest } from '../pull-request-reconciler.js';
import type { WebhookHandler } from './handler.js';

/** Drafts get no preview: a running one is destroyed. */
export const pullRequestConvertedToDraft: WebhookHandler<PullRequestJob> = {
  jobName: 'pull_request.converted_to_draft',
  async handle(ctx, job) {
    return [await reconcilePullRequest(ctx, job)];
  },
};
