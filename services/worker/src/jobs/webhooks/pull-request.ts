import type { PullRequestJob } from '@ephemera/schema';
import { applyDelivery } from '../../handlers/apply-delivery.js';
import type { HandlerContext } from '../../handlers/handler.js';
import { webhookJobs } from '../../handlers/webhook-jobs.js';
import { reconcilePullRequest, type ApprovalChange } from '../../pull-request-reconciler.js';

/**
 * What a label says about approval: the approval label added by someone trusted lets a fork's current commit deploy,
 * and removing it withdraws that; any other label is the snapshot alone.
 */
function approvalOf(job: PullRequestJob, ctx: HandlerContext): ApprovalChange {
  if (job.label !== ctx.settings.approveLabel) return undefined;
  if (job.action === 'labeled') return { by: 'label', change: 'granted' };
  return job.action === 'unlabeled' ? { by: 'label', change: 'revoked' } : undefined;
}

/**
 * `pull_request.*`: every pull_request event carries the whole PR, so each action is the same reconciliation of its
 * snapshot (opened: environment and first deployment; synchronize: a new deployment superseding older ones; closed,
 * converted_to_draft: teardown; reopened, ready_for_review: the preview comes back; edited: title and branch kept
 * current; labeled, unlabeled: the approval label, see {@link approvalOf}). The delivery's transaction (or its
 * optimistic write) runs the reconciliation: see `applyDelivery`.
 */
export const pullRequestJobs = webhookJobs('pull_request', (data, ctx) =>
  applyDelivery(ctx, async (handlerCtx, job: PullRequestJob) => [await reconcilePullRequest(handlerCtx, job, approvalOf(job, handlerCtx))], data),
);
