/**
 * Every BullMQ queue Ephemera uses. Intake, provisioning and GitHub feedback are separate queues so that a
 * slow cluster or a slow GitHub API never holds up event intake.
 */
export const QUEUES = {
  /** Verified webhook deliveries, one job per delivery (job id = X-GitHub-Delivery). */
  webhooks: 'ephemera-webhooks',
  /** provision / update / destroy work against the provisioner. */
  provisioning: 'ephemera-provisioning',
  /** PR comments, commit statuses and deployment statuses sent to GitHub. */
  feedback: 'ephemera-feedback',
  /** Scheduled clean-up of idle and stuck environments. */
  cleanup: 'ephemera-cleanup',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];
export const ALL_QUEUES: readonly QueueName[] = Object.values(QUEUES);
