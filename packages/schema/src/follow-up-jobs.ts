import { z } from 'zod';

// The jobs the worker gives itself: provisioning work after a state change, GitHub feedback, scheduled clean-up
// and GitHub sync passes. Defined once here, validated again when processed.

const id = z.number().int().positive();

export const deployJobSchema = z.object({
  environmentId: id,
  deploymentId: id,
});
export type DeployJob = z.infer<typeof deployJobSchema>;

export const destroyJobSchema = z.object({
  environmentId: id,
  /** The latest deployment when destruction was asked for; part of the job id, so a later destroy is a new job. */
  deploymentId: id.nullable(),
});
export type DestroyJob = z.infer<typeof destroyJobSchema>;

/** A pass of the teardown sweep; `attempt` counts the passes since one found nothing left, for its back-off. */
export const teardownSweepJobSchema = z.object({ attempt: z.number().int().min(0).max(1_000).default(0) });
export type TeardownSweepJob = z.infer<typeof teardownSweepJobSchema>;

export const PROVISIONING_JOBS = { deploy: 'provisioning.deploy', destroy: 'provisioning.destroy', teardowns: 'provisioning.teardowns' } as const;

/**
 * Tell GitHub how a pull request stands. One job per PR at a time (deduplicated on the PR): it reads the state when
 * it runs, so a burst of changes ends in one report. Jobs queued by earlier versions also carried a deployment and a
 * note; those are ignored (the state has both now).
 */
export const feedbackJobSchema = z.object({
  /** GitHub's repository id; null for a pull request whose rows were made before it was kept. */
  repositoryId: id.nullable().default(null),
  repositoryFullName: z.string(),
  prNumber: id,
  installationId: id.nullable(),
});
export type FeedbackJob = z.infer<typeof feedbackJobSchema>;

export const FEEDBACK_JOB = 'feedback.report';

/** Scheduled sweeps (clean-up and GitHub sync) carry no payload. */
export const cleanupJobSchema = z.unknown();

export const CLEANUP_JOBS = {
  idle: 'cleanup.idle',
  stuck: 'cleanup.stuck',
  namespaces: 'cleanup.namespaces',
  /** Keep the data bounded: old delivery ids, old destroyed environments. */
  prune: 'cleanup.prune',
  /** Look again at every deployment waiting for its commit's checks, in case a check event was lost (GATE_POLL_INTERVAL_MS). */
  gates: 'cleanup.gates',
} as const;

/**
 * The passes that ask GitHub (the App's rate limit) on a queue of their own, `ephemera-github-sync`, so a slow or
 * rate-limited GitHub never holds up the clean-up sweeps. Their names are kept from when they ran on the clean-up
 * queue, so their metrics' series go on.
 */
export const GITHUB_SYNC_JOBS = {
  /** Ask GitHub to redeliver what was lost (REDELIVERY_INTERVAL_MS). */
  redeliver: 'cleanup.redeliver',
  /** Converge on GitHub's pull requests and installations (RESYNC_INTERVAL_MS). */
  resync: 'cleanup.resync',
} as const;
