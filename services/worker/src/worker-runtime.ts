import { Worker, type Job, type Processor } from 'bullmq';
import type { Redis } from 'ioredis';
import type { PrismaClient } from '@ephemera/db';
import { createRedis, type JobSigner, type Logger } from '@ephemera/runtime';
import { AccountAllowList, CLEANUP_JOBS, QUEUES, type QueueName } from '@ephemera/schema';
import { FollowUps } from './follow-ups.js';
import type { GithubChecks } from './github/github-checks.js';
import type { GithubFeedback } from './github/github-feedback.js';
import type { InstallationClients } from './github/installation-clients.js';
import { JobRegistry, NOT_ALLOWED } from './jobs/job-registry.js';
import type { WorkerMetrics } from './metrics.js';
import { actionJobs } from './processors/action-processor.js';
import { cleanupJobs } from './processors/cleanup-processor.js';
import { feedbackJobs } from './processors/feedback-processor.js';
import { provisioningJobs } from './processors/provisioning-processor.js';
import { webhookJobs } from './processors/webhook-processor.js';
import type { PreviewConfigSource } from './provisioners/preview-config-source.js';
import type { Provisioner } from './provisioners/provisioner.js';
import type { GateReader } from './gate/gate-reader.js';
import type { PreviewSettings } from './pull-request-reconciler.js';
import { createWorkerQueues, type WorkerQueues } from './queues.js';

export interface WorkerRuntimeOptions {
  redisUrl: string;
  prefix: string;
  concurrency: number;
  lockMs: number;
  provisionAttempts: number;
  ttlHours: number;
  stuckAfterMinutes: number;
  cleanupIntervalMs: number;
  /** REDELIVERY_INTERVAL_MS and RESYNC_INTERVAL_MS (0: that pass does not run). */
  redeliveryIntervalMs?: number;
  resyncIntervalMs?: number;
  /** DELIVERY_RETENTION_DAYS and DESTROYED_RETENTION_DAYS. */
  retention?: { deliveryDays: number; destroyedDays: number };
  /** Start the scheduled sweeps (off in tests that run them by hand). */
  schedule?: boolean;
  /** FEEDBACK_DELAY_MS: how long a pull request's feedback waits for more of its changes before reporting. */
  feedbackDelayMs?: number;
  /** WORKER_MAX_STALLED_COUNT: how often a job may lose its worker (a crash, a kill) before it fails. */
  maxStalledCount?: number;
  /** PUBLIC_URL: the query service's public address, for the environment page's link in the pull request's comment. */
  publicUrl?: string | undefined;
  /** GATE_POLL_INTERVAL_MS: how often deployments waiting for their checks are looked at again (0: never). */
  gatePollIntervalMs?: number;
  /** How long one minute of `wait_timeout_minutes` lasts (tests shorten it). */
  gateMinuteMs?: number;
  /** How long the teardown sweep's first look waits after a namespace's deletion was asked for (tests shorten it). */
  teardownCheckMs?: number;
}

export interface WorkerRuntimeDeps {
  db: PrismaClient;
  provisioner: Provisioner;
  github: GithubFeedback;
  /** What is asked of GitHub before trusting a delivery (permissions, installations). */
  checks: GithubChecks;
  /** The App's clients, for the redelivery and resync passes; absent without App credentials. */
  clients?: InstallationClients | undefined;
  settings: PreviewSettings;
  logger: Logger;
  metrics: WorkerMetrics;
  /** QUEUE_SIGNING_KEY (and QUEUE_SIGNING_KEY_PREVIOUS): every job is verified before it runs, and signed when queued here. */
  signer: JobSigner;
  /** ALLOWED_ACCOUNTS, applied to every job and every pass; every account when not given. */
  accounts?: AccountAllowList | undefined;
  /** The deploy gate's configuration source and check reader; absent with PROVISIONER=none, which never waits. */
  gate?: { configs: PreviewConfigSource; reader: GateReader } | undefined;
}

export interface WorkerRuntime {
  queues: WorkerQueues;
  followUps: FollowUps;
  workers: Worker[];
  redis: Redis;
  /** Stops taking jobs and waits for running ones (BullMQ retries what does not finish in time). */
  close(): Promise<void>;
}

/**
 * Consumes the five queues. Every job's definition (name, payload schema, handler) is registered and checked
 * before anything starts, so a build with a job nobody handles fails at start, not on the first job of that name.
 */
export async function startWorkerRuntime(options: WorkerRuntimeOptions, deps: WorkerRuntimeDeps): Promise<WorkerRuntime> {
  const log = deps.logger;
  const redis = createRedis(options.redisUrl, 'worker');
  redis.on('error', (err: Error) => log.warn({ err: { message: err.message } }, 'redis connection error'));
  const queues = createWorkerQueues(redis, options.prefix, log);
  const followUps = new FollowUps(deps.db, queues, deps.signer, options.provisionAttempts, options.feedbackDelayMs ?? 0, options.teardownCheckMs ?? 2_000);
  const accounts = deps.accounts ?? AccountAllowList.ANY;
  const maxEnvironmentsPerRepo = deps.settings.maxEnvironmentsPerRepo ?? 0;
  const registry = new JobRegistry([
    ...webhookJobs({ db: deps.db, settings: deps.settings, followUps, logger: log, metrics: deps.metrics, checks: deps.checks }),
    ...provisioningJobs({
      db: deps.db,
      provisioner: deps.provisioner,
      followUps,
      logger: log,
      maxEnvironmentsPerRepo,
      ...(deps.settings.logMaxBytes !== undefined ? { logMaxBytes: deps.settings.logMaxBytes } : {}),
      ...(deps.gate ? { gate: { ...deps.gate, metrics: deps.metrics, minuteMs: options.gateMinuteMs } } : {}),
    }),
    ...feedbackJobs({ db: deps.db, github: deps.github, logger: log, publicUrl: options.publicUrl, settings: deps.settings }),
    ...actionJobs({
      db: deps.db,
      followUps,
      logger: log,
      ...(deps.settings.logMaxBytes !== undefined ? { logMaxBytes: deps.settings.logMaxBytes } : {}),
    }),
    ...cleanupJobs({
      db: deps.db,
      queues,
      followUps,
      logger: log,
      ttlHours: options.ttlHours,
      stuckAfterMinutes: options.stuckAfterMinutes,
      provisioner: deps.provisioner,
      metrics: deps.metrics,
      maxEnvironmentsPerRepo,
      clients: deps.clients,
      settings: deps.settings,
      retention: options.retention ?? { deliveryDays: 14, destroyedDays: 90 },
      accounts,
      redis,
      prefix: options.prefix,
    }),
  ], { signer: deps.signer, accounts, rejected: deps.metrics.jobsRejected });

  const concurrency: Record<QueueName, number> = {
    [QUEUES.webhooks]: options.concurrency,
    [QUEUES.provisioning]: options.concurrency,
    [QUEUES.feedback]: Math.max(1, Math.ceil(options.concurrency / 2)),
    [QUEUES.cleanup]: 1,
    // People's redeploys and destroys are few; each is one short transaction, the work follows on other queues.
    [QUEUES.actions]: 2,
  };
  const workers = (Object.keys(concurrency) as QueueName[]).map((name) => {
    const worker = new Worker(name, timed(name, registry.processor(name, log), deps.metrics), {
      connection: redis,
      prefix: options.prefix,
      concurrency: concurrency[name],
      lockDuration: options.lockMs,
      stalledInterval: Math.max(1_000, Math.floor(options.lockMs / 2)),
      // A job whose worker died is taken up again; one that kills every worker that runs it fails after this many.
      maxStalledCount: options.maxStalledCount ?? 3,
      autorun: true,
    });
    worker.on('error', (err) => log.warn({ queue: name, err: { message: err.message } }, 'worker error'));
    worker.on('failed', (job: Job | undefined, err: Error) => {
      log.warn({ queue: name, job_id: job?.id, name: job?.name, attempts: job?.attemptsMade, err: { message: err.message } }, 'job failed');
    });
    return worker;
  });

  if (options.schedule !== false) {
    // BullMQ job schedulers: one job per interval whichever worker takes it, not a timer per process. They live in
    // Redis, so they are made again whenever the connection is (re)established: a Redis that lost its data
    // (restarted without its append-only file, or flushed) would otherwise stop every sweep for good.
    const schedules: Array<[string, number, string]> = [
      ['cleanup-idle', options.cleanupIntervalMs, CLEANUP_JOBS.idle],
      ['cleanup-stuck', options.cleanupIntervalMs, CLEANUP_JOBS.stuck],
      ['cleanup-namespaces', options.cleanupIntervalMs, CLEANUP_JOBS.namespaces],
      ['cleanup-prune', options.cleanupIntervalMs, CLEANUP_JOBS.prune],
      ['redelivery', options.redeliveryIntervalMs ?? 0, CLEANUP_JOBS.redeliver],
      ['resync', options.resyncIntervalMs ?? 0, CLEANUP_JOBS.resync],
      ['gate-poll', deps.gate ? (options.gatePollIntervalMs ?? 0) : 0, CLEANUP_JOBS.gates],
    ];
    const upsertSchedulers = async () => {
      for (const [id, every, name] of schedules) {
        // The template's data is signed: each job the scheduler makes carries it, and is verified like any other.
        const data = deps.signer.sign(QUEUES.cleanup, name, {});
        if (every > 0) await queues.cleanup.upsertJobScheduler(id, { every }, { name, data, opts: { removeOnComplete: 100, removeOnFail: 100 } });
        else await queues.cleanup.removeJobScheduler(id);
      }
    };
    await upsertSchedulers();
    redis.on('ready', () => {
      upsertSchedulers().catch((err: Error) => log.warn({ err: { message: err.message } }, 'could not re-create the job schedulers; retried on the next reconnect'));
    });
  }

  return {
    queues,
    followUps,
    workers,
    redis,
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await queues.close();
      await redis.quit().catch(() => undefined);
    },
  };
}

function timed(queue: string, processor: Processor, metrics: WorkerMetrics): Processor {
  return async (job, token, signal) => {
    const stop = metrics.jobSeconds.startTimer({ queue });
    try {
      const result = await processor(job, token, signal);
      metrics.jobs.inc({ queue, name: job.name, outcome: typeof result === 'string' && (/^(duplicate|stale)$/.test(result) || result === NOT_ALLOWED) ? result : 'completed' });
      return result;
    } catch (err) {
      metrics.jobs.inc({ queue, name: job.name, outcome: 'failed' });
      throw err;
    } finally {
      stop();
    }
  };
}
