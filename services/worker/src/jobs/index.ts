import { destroyActionJob } from './actions/destroy.js';
import { redeployJob } from './actions/redeploy.js';
import { gatesJob } from './cleanup/gates.js';
import { idleJob } from './cleanup/idle.js';
import { namespacesJob } from './cleanup/namespaces.js';
import { pruneJob } from './cleanup/prune.js';
import { redeliverJob } from './github-sync/redeliver.js';
import { resyncJob } from './github-sync/resync.js';
import { stuckJob } from './cleanup/stuck.js';
import { feedbackJob } from './feedback/report.js';
import type { JobDefinition } from './job-definition.js';
import { deployJob } from './provisioning/deploy.js';
import { destroyJob } from './provisioning/destroy.js';
import { teardownsJob } from './provisioning/teardowns.js';
import { commitCheckJobs } from './webhooks/commit-check.js';
import { installationRepositoriesJobs } from './webhooks/installation-repositories.js';
import { installationJobs } from './webhooks/installation.js';
import { pullRequestReviewJobs } from './webhooks/pull-request-review.js';
import { pullRequestJobs } from './webhooks/pull-request.js';

/**
 * Every job the worker runs, one file each under jobs/<queue>/: the registry is built from this list and checked
 * when the worker starts (every job name a queue carries has exactly one definition).
 */
export const JOBS: readonly JobDefinition[] = [
  ...pullRequestJobs,
  ...pullRequestReviewJobs,
  ...installationJobs,
  ...installationRepositoriesJobs,
  ...commitCheckJobs,
  deployJob,
  destroyJob,
  teardownsJob,
  feedbackJob,
  idleJob,
  stuckJob,
  namespacesJob,
  pruneJob,
  gatesJob,
  redeliverJob,
  resyncJob,
  redeployJob,
  destroyActionJob,
] as JobDefinition[];
