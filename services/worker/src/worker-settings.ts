import type { WorkerConfig } from './config.js';

// The slices of the parsed configuration each part of the worker reads, by their environment variables' names:
// every default is written once, in the configuration's schema.

/** The queues' connection and the workers consuming them; the attempts and delays follow-up jobs are queued with. */
export type QueueSettings = Pick<
  WorkerConfig,
  'REDIS_URL' | 'QUEUE_PREFIX' | 'WORKER_CONCURRENCY' | 'WORKER_LOCK_MS' | 'WORKER_MAX_STALLED_COUNT' | 'PROVISION_ATTEMPTS' | 'FEEDBACK_DELAY_MS'
>;

/** The scheduled sweeps: how often each runs (0: never, where allowed) and what each keeps. */
export type SweepSettings = Pick<
  WorkerConfig,
  | 'ENVIRONMENT_TTL_HOURS'
  | 'STUCK_AFTER_MINUTES'
  | 'CLEANUP_INTERVAL_MS'
  | 'REDELIVERY_INTERVAL_MS'
  | 'RESYNC_INTERVAL_MS'
  | 'GATE_POLL_INTERVAL_MS'
  | 'DELIVERY_RETENTION_DAYS'
  | 'DESTROYED_RETENTION_DAYS'
>;

/** What the pull request's comment links to: PUBLIC_URL, the query service's dashboard. */
export type FeedbackSettings = Pick<WorkerConfig, 'PUBLIC_URL'>;

/** Everything the worker's runtime reads of the configuration. */
export type RuntimeSettings = QueueSettings & SweepSettings & FeedbackSettings;

/** Timings only tests change (no environment variable sets them). */
export interface WorkerTiming {
  /** How long one minute of `wait_timeout_minutes` lasts. */
  gateMinuteMs?: number;
  /** How long the teardown sweep's first look waits after a namespace's deletion was asked for (default 2 s). */
  teardownCheckMs?: number;
  /** How often a running step checks that it is still wanted (default 1 s). */
  checkIntervalMs?: number;
}
