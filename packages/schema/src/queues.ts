import { ENVIRONMENT_ACTIONS } from './environment-actions.js';
import { CLEANUP_JOBS, FEEDBACK_JOB, GITHUB_SYNC_JOBS, PROVISIONING_JOBS } from './follow-up-jobs.js';
import { COMMIT_CHECK_EVENTS, WEBHOOK_JOB_NAMES, type WebhookJob } from './webhook-job.js';

/**
 * Every BullMQ queue Ephemera uses. Intake, provisioning and GitHub feedback are separate queues so that a
 * slow cluster or a slow GitHub API never holds up event intake.
 */
export const QUEUES = {
  /** Verified webhook deliveries, one job per delivery (job id = X-GitHub-Delivery). */
  webhooks: 'ephemera-webhooks',
  /** Deploys, destroys and the teardown sweep, against the provisioner. */
  provisioning: 'ephemera-provisioning',
  /** The pull request's comment, commit statuses and deployment statuses sent to GitHub. */
  feedback: 'ephemera-feedback',
  /** Scheduled sweeps: idle and stuck environments, orphan namespaces, old data, deployments waiting for checks. */
  cleanup: 'ephemera-cleanup',
  /** Redeploy and destroy, asked for from the dashboard or the write API. */
  actions: 'ephemera-actions',
  /** Scheduled passes that ask GitHub: lost deliveries redelivered, state resynchronised. */
  githubSync: 'ephemera-github-sync',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];
export const ALL_QUEUES: readonly QueueName[] = Object.values(QUEUES);

/** Every job name each queue carries: the worker checks at start that each has exactly one handler. */
export const QUEUE_JOB_NAMES: Readonly<Record<QueueName, readonly string[]>> = {
  [QUEUES.webhooks]: WEBHOOK_JOB_NAMES,
  [QUEUES.provisioning]: Object.values(PROVISIONING_JOBS),
  [QUEUES.feedback]: [FEEDBACK_JOB],
  [QUEUES.cleanup]: Object.values(CLEANUP_JOBS),
  [QUEUES.actions]: Object.values(ENVIRONMENT_ACTIONS),
  [QUEUES.githubSync]: Object.values(GITHUB_SYNC_JOBS),
};

/**
 * How long a delivery id is remembered after its job is stored, so a redelivery adds no second job and is answered
 * "duplicate". GitHub redelivers up to 3 days back; the id is kept after retention has trimmed the job itself.
 */
export const DELIVERY_DEDUP_TTL_SECONDS = 7 * 24 * 3600;

/**
 * Options of every webhook job. Attempts and backoff cover a database or worker outage of several minutes;
 * retention is bounded so Redis does not grow without limit, yet failed jobs stay long enough to inspect and
 * retry from the dashboard.
 */
export const WEBHOOK_JOB_OPTIONS = {
  attempts: 12,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: 14 * 24 * 3600, count: 50_000 },
} as const;

/**
 * Commit check deliveries come in bursts (every check of every push of every repository) and almost all of them
 * concern no waiting deployment: they queue behind pull request deliveries, which BullMQ takes first (jobs without
 * a priority go before prioritized ones), so a burst of them never delays a push.
 */
export const COMMIT_CHECK_JOB_PRIORITY = 10;

/** The options a delivery's job is queued with: {@link WEBHOOK_JOB_OPTIONS}, and the priority of its kind. */
export function webhookJobOptions(job: Pick<WebhookJob, 'event'>) {
  return (COMMIT_CHECK_EVENTS as readonly string[]).includes(job.event) ? { ...WEBHOOK_JOB_OPTIONS, priority: COMMIT_CHECK_JOB_PRIORITY } : WEBHOOK_JOB_OPTIONS;
}
