import { QUEUES, WEBHOOK_JOB_NAMES, deliveryAccount, webhookJobName, webhookJobOptions, webhookJobSchema, type WebhookJob, type WebhookJobName } from '@ephemera/schema';
import type { JobContext } from '../jobs/job-context.js';
import { defineJob, type JobDefinition } from '../jobs/job-definition.js';

/** The handled job names of one event (`pull_request.opened`, …), as ingest names its jobs. */
export function jobNamesOf(event: WebhookJob['event']): WebhookJobName[] {
  return WEBHOOK_JOB_NAMES.filter((name) => name === event || name.startsWith(`${event}.`));
}

/**
 * The definitions of webhook jobs, one per job name of an event, each run by `handle` itself: ingest produces them
 * (the schema, the options and the names are its contract, in @ephemera/schema). A job whose delivery is not of its
 * name does not pass its schema, and fails at once.
 */
export function webhookJobs<E extends WebhookJob['event']>(event: E, handle: (data: Extract<WebhookJob, { event: E }>, ctx: JobContext) => Promise<string>): JobDefinition[] {
  return jobNamesOf(event).map((name) =>
    defineJob({
      queue: QUEUES.webhooks,
      name,
      schema: webhookJobSchema.refine((data) => webhookJobName(data) === name, { message: `not a ${name} delivery` }),
      options: (data) => webhookJobOptions(data),
      account: deliveryAccount,
      handle: handle as JobDefinition['handle'],
    }),
  );
}
