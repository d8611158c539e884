import { QUEUES, cleanupJobSchema, type QueueName } from '@ephemera/schema';
import type { InstallationClients } from '../github/installation-clients.js';
import type { JobContext } from './job-context.js';
import { defineJob, type JobDefinition } from './job-definition.js';

/**
 * A scheduled sweep: no payload, a job scheduler of its own (made again whenever the worker connects to Redis), a
 * short retention. A sweep acts for no one account: it applies ALLOWED_ACCOUNTS to what it finds.
 */
export function sweepJob(
  name: string,
  schedule: NonNullable<JobDefinition['schedule']>,
  sweep: (ctx: JobContext) => Promise<string>,
  queue: QueueName = QUEUES.cleanup,
): JobDefinition<typeof cleanupJobSchema> {
  return defineJob({
    queue,
    name,
    schema: cleanupJobSchema,
    options: () => ({ removeOnComplete: 100, removeOnFail: 100 }),
    schedule,
    account: null,
    handle: (_data, ctx) => sweep(ctx),
  });
}

/** A pass that asks GitHub with the App's clients, on the GitHub sync queue; skipped without App credentials. */
export function githubSyncJob(
  name: string,
  schedule: NonNullable<JobDefinition['schedule']>,
  pass: (ctx: JobContext, clients: InstallationClients) => Promise<string>,
): JobDefinition<typeof cleanupJobSchema> {
  return sweepJob(name, schedule, (ctx) => (ctx.clients ? pass(ctx, ctx.clients) : Promise.resolve('skipped: no App credentials')), QUEUES.githubSync);
}
