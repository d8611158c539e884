import { ENVIRONMENT_ACTIONS, QUEUES, environmentActionJobSchema } from '@ephemera/schema';
import { applyAction } from '../../actions/apply-action.js';
import { environmentAccount } from '../../environment-account.js';
import { defineJob } from '../job-definition.js';

/**
 * `environment.redeploy`: a new deployment of the environment's current commit, asked for from the dashboard or the
 * write API. The query service produces it (job id: the request id; its options live there). A redeploy deploys, so
 * it is for allowed accounts only.
 */
export const redeployJob = defineJob({
  queue: QUEUES.actions,
  name: ENVIRONMENT_ACTIONS.redeploy,
  schema: environmentActionJobSchema,
  account: (data, ctx) => environmentAccount(ctx.db, data.environmentId),
  handle: (data, ctx) => applyAction(ctx, 'redeploy', data),
});
