import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { createPrismaClient, type PrismaClient } from '@ephemera/db';
import { Migrator, defaultPrismaDir } from '@ephemera/db/migrate';
import { createScratchDatabase } from '@ephemera/db/testing';
import { JobSigner, createLogger } from '@ephemera/runtime';
import { AccountAllowList, QUEUES, trimWebhookPayload, webhookJobName, webhookJobOptions } from '@ephemera/schema';
import { startFakeGithub, type FakeGithub } from '@ephemera/testkit';
import { loadWorkerConfig, type WorkerConfig } from '../src/config.js';
import { LoggingFeedback, OctokitFeedback } from '../src/github/github-feedback.js';
import { InstallationClients } from '../src/github/installation-clients.js';
import { NoGithubChecks, OctokitChecks } from '../src/github/github-checks.js';
import { createWorkerMetrics } from '../src/metrics.js';
import { GithubGateReader } from '../src/gate/gate-reader.js';
import { NoneProvisioner } from '../src/provisioners/none-provisioner.js';
import { GithubConfigSource } from '../src/provisioners/preview-config-source.js';
import type { JobContext } from '../src/jobs/job-context.js';
import type { Provisioner } from '../src/provisioners/provisioner.js';
import type { PreviewSettings } from '../src/pull-request-reconciler.js';
import { startWorkerRuntime, type WorkerRuntime } from '../src/worker-runtime.js';

export interface HarnessOptions {
  settings?: Partial<PreviewSettings>;
  provisioner?: Provisioner;
  /** A provisioner built with the harness's fake GitHub and App key (to read repository files as the App). */
  provisionerFor?: (ctx: { fakeGithub: FakeGithub; pem: string }) => Provisioner;
  maxEnvironmentsPerRepo?: number;
  /** Start the job schedulers, with the redelivery and resync passes, as production does. */
  schedule?: boolean;
  github?: boolean;
  /** Worker runtimes consuming the same queues at once. */
  runtimes?: number;
  provisionAttempts?: number;
  /** Start no runtime (the test starts its own worker processes). */
  noRuntime?: boolean;
  /** FEEDBACK_DELAY_MS (tests report at once unless they say otherwise). */
  feedbackDelayMs?: number;
  /** PUBLIC_URL: the comment links each environment's page there. */
  publicUrl?: string;
  /**
   * The deploy gate (`deploy.wait_for`), reading `.ephemera.yml` and the checks from the fake GitHub, as
   * PROVISIONER=kubernetes does; `minuteMs` is how long a configured minute lasts.
   */
  gate?: { minuteMs?: number };
  /** WORKER_CONCURRENCY of each runtime (default 4). */
  concurrency?: number;
  /** ALLOWED_ACCOUNTS (default: every account). */
  allowedAccounts?: string[];
  /** QUEUE_SIGNING_KEY_PREVIOUS, still accepted when verifying. */
  previousSigningKey?: string;
}

/** A random QUEUE_SIGNING_KEY, as `npm start` makes one. */
export function signingKey(): string {
  return randomBytes(32).toString('hex');
}

/**
 * The worker's configuration as the worker parses it (same defaults), from a minimal environment and the variables
 * a test sets.
 */
export function testWorkerConfig(overrides: Record<string, string | undefined> = {}): WorkerConfig {
  return loadWorkerConfig({
    DATABASE_URL: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/ephemera_test',
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    QUEUE_SIGNING_KEY: process.env.QUEUE_SIGNING_KEY ?? signingKey(),
    NODE_ENV: 'test',
    ...overrides,
  });
}

export type Harness = Awaited<ReturnType<typeof startHarness>>;

/** A scratch database, a queue prefix, a fake GitHub and worker runtimes, all of the test's own. */
export async function startHarness(options: HarnessOptions = {}) {
  const scratch = await createScratchDatabase();
  await new Migrator({ databaseUrl: scratch.url, prismaDir: defaultPrismaDir() }).migrate();
  const db: PrismaClient = createPrismaClient({ databaseUrl: scratch.url, poolSize: 10 });
  const prefix = `wt-${randomBytes(4).toString('hex')}`;
  const redisUrl = process.env.REDIS_URL;
  if (!redisUrl) throw new Error('REDIS_URL is not set (npm test starts a Redis server and sets it)');
  const fakeGithub: FakeGithub | undefined = options.github === false ? undefined : await startFakeGithub();
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const logLines: string[] = [];
  const logger = createLogger({
    service: 'worker',
    level: 'info',
    destination: new Writable({
      write(chunk: Buffer, _e, cb) {
        logLines.push(chunk.toString());
        cb();
      },
    }),
  });
  const settings: PreviewSettings = {
    previewBaseDomain: 'preview.test',
    previewLabel: undefined,
    approveLabel: 'preview-approved',
    maxEnvironmentsPerRepo: options.maxEnvironmentsPerRepo ?? 0,
    ...options.settings,
  };
  const provisioner =
    options.provisioner ?? (options.provisionerFor && fakeGithub ? options.provisionerFor({ fakeGithub, pem }) : new NoneProvisioner(20));
  const metrics = createWorkerMetrics();
  // The key of this harness's producers and workers alike, as one installation shares one QUEUE_SIGNING_KEY.
  const signingKeyOfRun = process.env.QUEUE_SIGNING_KEY ?? signingKey();
  const signer = new JobSigner(signingKeyOfRun, options.previousSigningKey);
  const accounts = options.allowedAccounts ? AccountAllowList.of(options.allowedAccounts) : AccountAllowList.ANY;
  const clients = fakeGithub ? new InstallationClients({ appId: 42, privateKey: pem }, fakeGithub.url, 10_000) : undefined;
  const config = testWorkerConfig({
    DATABASE_URL: scratch.url,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    QUEUE_SIGNING_KEY: signingKeyOfRun,
    WORKER_CONCURRENCY: String(options.concurrency ?? 4),
    WORKER_LOCK_MS: '5000',
    PROVISION_ATTEMPTS: String(options.provisionAttempts ?? 3),
    CLEANUP_INTERVAL_MS: '60000',
    // The deploy gate's poll runs only where a test asks for it.
    GATE_POLL_INTERVAL_MS: '0',
    FEEDBACK_DELAY_MS: String(options.feedbackDelayMs ?? 0),
    PUBLIC_URL: options.publicUrl,
  });
  const runtimes: WorkerRuntime[] = [];
  const count = options.noRuntime ? 0 : (options.runtimes ?? 1);
  for (let i = 0; i < count; i++) {
    runtimes.push(
      await startWorkerRuntime(
        config,
        {
          db,
          provisioner,
          github: clients ? new OctokitFeedback(clients) : new LoggingFeedback(logger),
          checks: clients ? new OctokitChecks(clients, 0, logger) : new NoGithubChecks(),
          clients,
          settings,
          logger,
          metrics,
          signer,
          accounts,
          gate: options.gate && clients ? { configs: new GithubConfigSource(clients, { maxReplicas: 3 }), reader: new GithubGateReader(clients) } : undefined,
        },
        { schedule: options.schedule ?? false, teardownCheckMs: 20, ...(options.gate?.minuteMs !== undefined ? { gateMinuteMs: options.gate.minuteMs } : {}) },
      ),
    );
  }
  // A producer of our own, as ingest would be.
  const producer = runtimes[0]?.queues ?? (await import('../src/queues.js')).createWorkerQueues({ url: redisUrl } as never, prefix);

  return {
    db,
    databaseUrl: scratch.url,
    redisUrl,
    prefix,
    fakeGithub,
    pem,
    logLines,
    runtimes,
    queues: producer,
    settings,
    provisioner,
    metrics,
    logger,
    clients,
    signer,
    signingKey: signingKeyOfRun,
    accounts,

    /** The job's data signed with the harness's QUEUE_SIGNING_KEY, as every producer signs it. */
    sign<T extends object>(queue: string, name: string, data: T) {
      return signer.sign(queue, name, data);
    },

    /** What the jobs run with, to run a sweep by hand (the harness schedules none). */
    jobContext(): JobContext {
      return { ...runtimes[0]!.context, logger: createLogger({ service: 'test', level: 'silent' }) };
    },

    /** Queues a delivery exactly as ingest does (trimmed, signed, job id = delivery id). */
    async deliver(payload: Record<string, unknown>, event = 'pull_request', deliveryId: string = randomUUID()) {
      const job = trimWebhookPayload({ event, deliveryId, receivedAt: new Date() }, payload);
      if (!job) throw new Error(`${event}.${String(payload.action)} is not handled`);
      const name = webhookJobName(job);
      await producer.webhooks.add(name, signer.sign(QUEUES.webhooks, name, job), { ...webhookJobOptions(job), jobId: deliveryId });
      return deliveryId;
    },

    /** Waits until no queue has work left (twice in a row, so follow-ups queued meanwhile are seen). */
    async drain(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let quiet = 0;
      while (quiet < 2) {
        if (Date.now() > deadline) throw new Error('queues did not drain in time');
        const counts = await Promise.all(
          [producer.webhooks, producer.provisioning, producer.feedback, producer.actions].map((q) =>
            q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children'),
          ),
        );
        // A waiting deployment's look at its deadline is work for later, not work left now.
        const deadlines = (await producer.provisioning.getDelayed()).filter((j) => j.id?.startsWith('gate-deadline-')).length;
        const busy = counts.reduce((n, c) => n + Object.values(c).reduce((a, b) => a + b, 0), 0) - deadlines;
        quiet = busy === 0 ? quiet + 1 : 0;
        await new Promise((r) => setTimeout(r, 100));
      }
    },

    /** Each environment with its latest deployment, the state two runs are compared on. */
    async snapshot() {
      const envs = await db.environment.findMany({ orderBy: [{ repositoryFullName: 'asc' }, { prNumber: 'asc' }] });
      return Promise.all(
        envs.map(async (e) => {
          const latest = await db.deployment.findFirst({ where: { environmentId: e.id }, orderBy: { id: 'desc' } });
          return {
            repository: e.repositoryFullName,
            pr: e.prNumber,
            namespace: e.namespace,
            status: e.status,
            commitSha: e.commitSha,
            title: e.prTitle,
            latestDeployment: latest ? { commitSha: latest.commitSha, status: latest.status } : null,
          };
        }),
      );
    },

    async failedJobs() {
      return [
        ...(await producer.webhooks.getFailed()),
        ...(await producer.provisioning.getFailed()),
        ...(await producer.feedback.getFailed()),
        ...(await producer.actions.getFailed()),
      ];
    },

    async close() {
      for (const r of runtimes) await r.close();
      if (!runtimes[0]) await producer.close();
      for (const q of producer.all) {
        await q.obliterate({ force: true }).catch(() => undefined);
      }
      await db.$disconnect();
      await fakeGithub?.close();
      await scratch.drop();
    },
  };
}

/** A commit SHA for test commit `n`, distinct from every other's in its first seven characters (the short SHA shown). */
export const sha = (n: number) => `${n.toString(16).padStart(7, '0')}${'e'.repeat(33)}`;
/** GitHub's `updated_at` for the n-th event of a test PR, one second apart. */
export const at = (n: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, n)).toISOString().replace('.000Z', 'Z');
