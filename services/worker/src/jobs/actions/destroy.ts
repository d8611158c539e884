import { ENVIRONMENT_ACTIONS, QUEUES, environmentActionJobSchema } from '@ephemera/schema';
import { applyAction } from '../../actions/apply-action.js';
import { defineJob } from '../job-definition.js';

/**
 * `environment.destroy`: the environment torn down, asked for from the dashboard or the write API. The query service
 * produces it (job id: the request id; its options live there). A destroy only removes, whoever's the environment.
 */
export const destroyActionJob = defineJob({
  queue: QUEUES.actions,
  name: ENVIRONMENT_ACTIONS.destroy,
  schema: environmentActionJobSchema,
  account: null,
  handle: (data, ctx) => applyAction(ctx, 'destroy', data),
});
