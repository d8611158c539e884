import { COMMIT_CHECK_EVENTS } from '@ephemera/schema';
import { processCommitCheck } from '../../gate/commit-check-events.js';
import { webhookJobs } from '../../handlers/webhook-jobs.js';

/**
 * `check_run.completed`, `check_suite.completed`, `workflow_run.completed`, `status`: not applied to a pull request;
 * the deployments waiting for the commit's checks look at their gate again.
 */
export const commitCheckJobs = COMMIT_CHECK_EVENTS.flatMap((event) => webhookJobs(event, (data, ctx) => processCommitCheck(ctx, data)));
