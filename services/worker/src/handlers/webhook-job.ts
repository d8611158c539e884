import { UnrecoverableError } from 'bullmq';
import { QUEUES, WEBHOOK_JOB_NAMES, deliveryAccount, webhookJobName, webhookJobOptions, webhookJobSchema, type WebhookJob, type WebhookJobName } from '@ephemera/schema';
import type { JobContext } from '../jobs/job-context.js';
import { defineJob, type JobDefinition } from '../jobs/job-definition.js';

/** The handled job names of one event (`pull_request.opened`, …), as ingest names its jobs. */
export function jobNamesOf<E extends WebhookJob['event']>(event: E): Array<Extract<WebhookJobName, E | `${E}.${string}`>> {
  return WEBHOOK_JOB_NAMES.filter((name) => name === event || name.startsWith(`${event}.`)) as Array<Extract<WebhookJobName, E | `${E}.${string}`>>;
}

/**
 * The definitions of webhook jobs, one per job name: ingest produces them (the schema, the options and the names
 * are its contract, in @ephemera/schema), and each is run by `handle` with the delivery of its event. A job whose
 * name and delivery disagree fails at once.
 */
export function webhookJobs<E extends WebhookJob['event']>(
  event: E,
  handle: (data: Extract<WebhookJob, { event: E }>, name: WebhookJobName, ctx: JobContext) => Promise<string>,
): JobDefinition[] {
  return jobNamesOf(event).map((name) =>
    defineJob({
      queue: QUEUES.webhooks,
      name,
      schema: webhookJobSchema,
      options: (data) => webhookJobOptions(data),
      account: deliveryAccount,
      handle: async (data, ctx) => {
        if (webhookJobName(data) !== name) throw new UnrecoverableError(`job ${name} carries a ${webhookJobName(data)} delivery`);
        return handle(data as Extract<WebhookJob, { event: E }>, name, ctx);
      },
    }),
  );
}
