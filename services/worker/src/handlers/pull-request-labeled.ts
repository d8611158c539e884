import type { PullRequestJob } from '@ephemera/schema';
import { reconcilePullRequest } from '../pull-request-reconciler.js';
import type { WebhookHandler } from './handler.js';

/** A label was added: the approval label lets a fork's current commit deploy; the preview label starts a preview. */
export const pullRequestLabeled: WebhookHandler<PullRequestJob> = {
  jobName: 'pull_request.labeled',
  async handle(ctx, job) {
    const approval = job.label === ctx.settings.approveLabel ? 'granted' : undefined;
    return [await reconcilePullRequest(ctx, job, approval)];
  },
};
