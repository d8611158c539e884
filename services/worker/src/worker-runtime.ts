import { Worker, type Job, type Processor } from 'bullmq';
import type { Redis } from 'ioredis';
import { createRedis, type JobSigner, type Logger } from '@ephemera/runtime';
import { ALL_QUEUES, AccountAllowList, QUEUES, type QueueName } from '@ephemera/schema';
import { FollowUps } from './follow-ups.js';
import type { JobProducer } from './jobs/enqueue.js';
import { JOBS } from './jobs/index.js';
import type { JobContext } from './jobs/job-context.js';
import { JobRegistry } from './jobs/job-registry.js';
import { upsertJobSchedulers } from './jobs/job-schedulers.js';
import { createWorkerQueues, type WorkerQueues } from './queues.js';
import type { QueueSettings, RuntimeSettings, WorkerTiming } from './worker-settings.js';

/** What the runtime is given besides the configuration: the clients and services its jobs use. */
export type WorkerRuntimeDeps = Omit<JobContext, 'followUps' | 'queues' | 'redis' | 'accounts' | 'config' | 'timing'> & {
  /** QUEUE_SIGNING_KEY (and QUEUE_SIGNING_KEY_PREVIOUS): every job is verified before it runs, and signed when queued here. */
  signer: JobSigner;
  /** ALLOWED_ACCOUNTS, applied to every job and every pass; every account when not given. */
  accounts?: AccountAllowList | undefined;
};

/** Test-only knobs (no environment variable sets them). */
export type WorkerTesting = WorkerTiming & {
  /** Start the scheduled sweeps (off in tests that run them by hand). */
  schedule?: boolean;
};

export interface WorkerRuntime {
  queues: WorkerQueues;
  followUps: FollowUps;
  workers: Worker[];
  redis: Redis;
  /** What the jobs run with (tests run a sweep by hand with it). */
  context: JobContext;
  /** Stops taking jobs and waits for running ones (BullMQ retries what does not finish in time). */
  close(): Promise<void>;
}

/** Jobs of each queue processed at once, from WORKER_CONCURRENCY. */
const CONCURRENCY: Readonly<Record<QueueName, (workerConcurrency: number) => number>> = {
  [QUEUES.webhooks]: (n) => n,
  [QUEUES.provisioning]: (n) => n,
  [QUEUES.feedback]: (n) => Math.max(1, Math.ceil(n / 2)),
  [QUEUES.cleanup]: () => 1,
  // People's redeploys and destroys are few; each is one short transaction, the work follows on other queues.
  [QUEUES.actions]: () => 2,
  // One pass at a time: each spends the App's rate limit.
  [QUEUES.githubSync]: () => 1,
};

/**
 * Consumes every queue (QUEUES). Every job's definition (jobs/index.ts) is registered and checked before anything
 * starts, so a build with a job nobody handles fails at start, not on the first job of that name.
 */
export async function startWorkerRuntime(config: RuntimeSettings, deps: WorkerRuntimeDeps, testing: WorkerTesting = {}): Promise<WorkerRuntime> {
  const { schedule, ...timing } = testing;
  const log = deps.logger;
  const redis = createRedis(config.REDIS_URL, 'worker');
  redis.on('error', (err: Error) => log.warn({ err: { message: err.message } }, 'redis connection error'));
  const queues = createWorkerQueues(redis, config.QUEUE_PREFIX, log);
  const producer: JobProducer = { queues, signer: deps.signer, settings: { ...config, timing } };
  const followUps = new FollowUps(deps.db, producer);
  const accounts = deps.accounts ?? AccountAllowList.ANY;
  const context: JobContext = { ...deps, accounts, followUps, queues, redis, config, timing };
  const registry = new JobRegistry(JOBS, { signer: deps.signer, accounts, rejected: deps.metrics.jobsRejected });
  const workers = ALL_QUEUES.map((name) => startWorker(name, registry.processor(name, context), config, redis, log));

  if (schedule !== false) {
    await upsertJobSchedulers(JOBS, producer, context);
    redis.on('ready', () => {
      upsertJobSchedulers(JOBS, producer, context).catch((err: Error) =>
        log.warn({ err: { message: err.message } }, 'could not re-create the job schedulers; retried on the next reconnect'),
      );
    });
  }

  return {
    queues,
    followUps,
    workers,
    redis,
    context,
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await queues.close();
      await redis.quit().catch(() => undefined);
    },
  };
}

function startWorker(name: QueueName, processor: Processor, config: QueueSettings, redis: Redis, log: Logger): Worker {
  const worker = new Worker(name, processor, {
    connection: redis,
    prefix: config.QUEUE_PREFIX,
    concurrency: CONCURRENCY[name](config.WORKER_CONCURRENCY),
    lockDuration: config.WORKER_LOCK_MS,
    stalledInterval: Math.max(1_000, Math.floor(config.WORKER_LOCK_MS / 2)),
    // A job whose worker died is taken up again; one that kills every worker that runs it fails after this many.
    maxStalledCount: config.WORKER_MAX_STALLED_COUNT,
    autorun: true,
  });
  worker.on('error', (err) => log.warn({ queue: name, err: { message: err.message } }, 'worker error'));
  worker.on('failed', (job: Job | undefined, err: Error) => {
    log.warn({ queue: name, job_id: job?.id, name: job?.name, attempts: job?.attemptsMade, err: { message: err.message } }, 'job failed');
  });
  return worker;
}
