import type { PullRequestJob } from '@ephemera/schema';
import { reconcilePullRequest } from '../pull-request-reconciler.js';
import type { WebhookHandler } from './handler.js';

/** A label was removed: removing the approval label holds the fork's next push; removing the preview label destroys the preview. */
export const pullRequestUnlabeled: WebhookHandler<PullRequestJob> = {
  jobName: 'pull_request.unlabeled',
  async handle(ctx, job) {
    const approval = job.label === ctx.settings.approveLabel ? 'revoked' : undefined;
    return [await reconcilePullRequest(ctx, job, approval)];
  },
};
