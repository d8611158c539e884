// pnpm bench:worker — 20,000 pull_request events over 2,000 PRs through the real queue into PostgreSQL, and
// the same database writes done with plain `pg`, one transaction per event, at the same concurrency: first as pg
// sends statements by default (unnamed, parsed and planned on every execution), which is the baseline of the
// ratio, then with every statement prepared once per connection, as the worker's own client does, for reference.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createPrismaClient } from '@ephemera/db';
import { Migrator, defaultPrismaDir } from '@ephemera/db/migrate';
import { JobSigner, createLogger, createRedis } from '@ephemera/runtime';
import { QUEUES, WEBHOOK_JOB_OPTIONS, namespaceFor, trimWebhookPayload, webhookJobName, type PullRequestJob } from '@ephemera/schema';
import { freePort, pullRequestPayload, startPostgres, startRedis } from '@ephemera/testkit';
import { loadWorkerConfig } from '../src/config.js';
import { LoggingFeedback } from '../src/github/github-feedback.js';
import { createWorkerMetrics } from '../src/metrics.js';
import { NoGithubChecks } from '../src/github/github-checks.js';
import { NoneProvisioner } from '../src/provisioners/none-provisioner.js';
import { createWorkerQueues } from '../src/queues.js';
import { startWorkerRuntime } from '../src/worker-runtime.js';

const PRS = Number(process.env.BENCH_PRS ?? 2_000);
const PER_PR = 10;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);

const hex = (n: number) => n.toString(16).padStart(40, '0');
const time = (n: number) => new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString().replace('.000Z', 'Z');

function events(): PullRequestJob[] {
  const base = pullRequestPayload({ action: 'opened' });
  const out: PullRequestJob[] = [];
  for (let i = 0; i < PER_PR; i++) {
    for (let pr = 1; pr <= PRS; pr++) {
      const p = structuredClone(base) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      p.action = i === 0 ? 'opened' : 'synchronize';
      p.pull_request.number = pr;
      p.pull_request.head.sha = hex(pr * 100 + i);
      p.pull_request.updated_at = time(i);
      out.push(trimWebhookPayload({ event: 'pull_request', deliveryId: randomUUID(), receivedAt: new Date() }, p) as PullRequestJob);
    }
  }
  return out;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

type Queryable = Pick<pg.PoolClient, 'query'>;

/** A client whose statements are each prepared once per connection (named by their text). */
function preparing(client: pg.PoolClient): Queryable {
  const name = (text: string) => `b_${createHash('sha1').update(text).digest('hex')}`;
  return { query: ((text: string, values?: unknown[]) => client.query({ name: name(text), text, values })) as Queryable['query'] };
}

/** The webhook transaction's writes for opened/synchronize, by hand, with plain pg. */
async function plainEvent(client: Queryable, job: PullRequestJob): Promise<void> {
  const repo = job.repository.fullName;
  const repoId = job.repository.id;
  const pr = job.pullRequest;
  await client.query('BEGIN');
  try {
    const fresh = await client.query('INSERT INTO processed_deliveries (delivery_id, event, action) VALUES ($1,$2,$3) ON CONFLICT DO NOTHING', [job.deliveryId, job.event, job.action]);
    if (fresh.rowCount === 0) return void (await client.query('COMMIT'));
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`repository:${repoId}#${pr.number}`]);
    const state = await client.query('SELECT last_event_at FROM pull_request_states WHERE repository_id=$1 AND pr_number=$2', [repoId, pr.number]);
    if (state.rows[0]?.last_event_at && new Date(pr.updatedAt) < state.rows[0].last_event_at) return void (await client.query('COMMIT'));
    const user = await client.query(
      `INSERT INTO users (github_id, github_login, avatar_url, updated_at) VALUES ($1,$2,$3,now())
       ON CONFLICT (github_id) DO UPDATE SET github_login = EXCLUDED.github_login, updated_at = now() RETURNING id`,
      [pr.author.id, pr.author.login, pr.author.avatarUrl],
    );
    const env = await client.query('SELECT id FROM environments WHERE repository_id=$1 AND pr_number=$2', [repoId, pr.number]);
    let envId: number;
    if (env.rows[0]) {
      envId = env.rows[0].id;
      await client.query(`UPDATE deployments SET status='FAILED', error_message=$2, completed_at=now(), updated_at=now() WHERE environment_id=$1 AND status IN ('QUEUED','IN_PROGRESS')`, [envId, 'superseded']);
      await client.query('UPDATE environments SET commit_sha=$2, pr_title=$3, updated_at=now() WHERE id=$1', [envId, pr.headSha, pr.title]);
    } else {
      const ns = namespaceFor(repo, pr.number, repoId);
      const created = await client.query(
        `INSERT INTO environments (repository_id, repository_full_name, repository_name, pr_number, pr_title, branch_name, commit_sha, namespace, environment_url, status, installation_id, owner_id, updated_at)
         VALUES ($11,$1,$2,$3,$4,$5,$6,$7,$8,'PENDING',$9,$10,now()) RETURNING id`,
        [repo, job.repository.name, pr.number, pr.title, pr.headRef, pr.headSha, ns, `https://${ns}.bench`, job.installationId ?? 0, user.rows[0].id, repoId],
      );
      envId = created.rows[0].id;
    }
    await client.query(`INSERT INTO deployments (environment_id, commit_sha, commit_message, status, updated_at) VALUES ($1,$2,$3,'QUEUED',now())`, [envId, pr.headSha, pr.title]);
    await client.query(
      `INSERT INTO pull_request_states (repository_id, repository_full_name, pr_number, last_event_at, updated_at) VALUES ($4,$1,$2,$3,now())
       ON CONFLICT (repository_id, pr_number) DO UPDATE SET last_event_at = EXCLUDED.last_event_at, updated_at = now()`,
      [repo, pr.number, pr.updatedAt, repoId],
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  }
}

async function main() {
  const scratch = await mkdtemp(path.join(tmpdir(), 'ephemera-bench-worker-'));
  const { chmod } = await import('node:fs/promises');
  await chmod(scratch, 0o755);
  const pgServer = process.env.DATABASE_URL ? undefined : await startPostgres({ dir: path.join(scratch, 'pg'), port: await freePort(), database: 'bench' });
  const redisServer = process.env.REDIS_URL ? undefined : await startRedis({ dir: path.join(scratch, 'redis'), port: await freePort(), durable: true });
  const serverUrl = process.env.DATABASE_URL ?? pgServer!.url;
  const redisUrl = process.env.REDIS_URL ?? redisServer!.url;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  const dbs = [`bench_queue_${Date.now()}`, `bench_plain_${Date.now()}`, `bench_prepared_${Date.now()}`];
  for (const d of dbs) await admin.query(`CREATE DATABASE ${d}`);
  const urlOf = (d: string) => Object.assign(new URL(serverUrl), { pathname: `/${d}` }).toString();
  for (const d of dbs) await new Migrator({ databaseUrl: urlOf(d), prismaDir: defaultPrismaDir() }).migrate();

  const jobs = events();
  process.stdout.write(`${jobs.length} events over ${PRS} PRs, worker concurrency ${CONCURRENCY}, PostgreSQL ${pgServer ? 'started by the bench (default settings)' : serverUrl}\n`);

  // 1. Through the queue: the worker as it runs in production (provisioner `none` with no delay, feedback logged,
  // FEEDBACK_DELAY_MS at its default). The deliveries are queued first, as ingest would have queued them, so the
  // timing is the worker's alone: from its start until every delivery is applied, with its deploys and feedback
  // running alongside.
  const db = createPrismaClient({ databaseUrl: urlOf(dbs[0]!), poolSize: CONCURRENCY + 4 });
  const prefix = `bench-${randomUUID().slice(0, 8)}`;
  const producerRedis = createRedis(redisUrl, 'producer');
  const producer = createWorkerQueues(producerRedis, prefix);
  // Signed as ingest signs them: the worker refuses any job that is not.
  const signingKey = randomBytes(32).toString('hex');
  const signer = new JobSigner(signingKey);
  for (let i = 0; i < jobs.length; i += 500) {
    await producer.webhooks.addBulk(
      jobs.slice(i, i + 500).map((j) => ({ name: webhookJobName(j), data: signer.sign(QUEUES.webhooks, webhookJobName(j), j), opts: { ...WEBHOOK_JOB_OPTIONS, jobId: j.deliveryId } })),
    );
  }
  await producer.close();
  await producerRedis.quit();
  const processing: number[] = [];
  let done = 0;
  let resolveFinished!: () => void;
  const finished = new Promise<void>((resolve) => (resolveFinished = resolve));
  const started = Date.now();
  const runtime = await startWorkerRuntime(
    loadWorkerConfig({
      DATABASE_URL: urlOf(dbs[0]!),
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: prefix,
      QUEUE_SIGNING_KEY: signingKey,
      WORKER_CONCURRENCY: String(CONCURRENCY),
      PROVISION_ATTEMPTS: '3',
      CLEANUP_INTERVAL_MS: '3600000',
      NODE_ENV: 'test',
    }),
    {
      db,
      provisioner: new NoneProvisioner(0),
      checks: new NoGithubChecks(),
      github: new LoggingFeedback(createLogger({ service: 'bench', level: 'silent' })),
      settings: { previewBaseDomain: 'bench', previewLabel: undefined, approveLabel: 'preview-approved' },
      logger: createLogger({ service: 'bench', level: 'warn' }),
      metrics: createWorkerMetrics(),
      signer,
    },
    { schedule: false },
  );
  runtime.workers[0]!.on('completed', (job) => {
    processing.push((job.finishedOn ?? Date.now()) - (job.processedOn ?? job.timestamp));
    if (++done === jobs.length) resolveFinished();
  });
  await finished;
  const queueSeconds = (Date.now() - started) / 1000;
  const failed = await runtime.queues.webhooks.getJobCounts('failed');
  const envs = await db.environment.count();
  const deployments = await db.deployment.count();
  // The follow-up work (deploys, feedback) still queued when the last delivery was applied finishes before the
  // queues are torn down; how long it took is reported too.
  for (;;) {
    const counts = await Promise.all(
      [runtime.queues.provisioning, runtime.queues.feedback].map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'prioritized')),
    );
    if (counts.every((c) => Object.values(c).every((n) => n === 0))) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const drainedSeconds = (Date.now() - started) / 1000;
  for (const w of runtime.workers) await w.close();
  for (const q of [runtime.queues.webhooks, runtime.queues.provisioning, runtime.queues.feedback]) await q.obliterate({ force: true });
  await runtime.close();
  await db.$disconnect();

  // 2. The same writes with plain pg, one transaction per event, CONCURRENCY at a time, in delivery order per PR:
  // as pg sends them by default, then prepared.
  const plain = async (database: string, prepared: boolean): Promise<number> => {
    const pool = new pg.Pool({ connectionString: urlOf(database), max: CONCURRENCY });
    const plainStarted = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        const client = await pool.connect();
        const q = prepared ? preparing(client) : client;
        try {
          while (next < jobs.length) await plainEvent(q, jobs[next++]!);
        } finally {
          client.release();
        }
      }),
    );
    const seconds = (Date.now() - plainStarted) / 1000;
    await pool.end();
    return seconds;
  };
  const plainSeconds = await plain(dbs[1]!, false);
  const preparedSeconds = await plain(dbs[2]!, true);

  processing.sort((a, b) => a - b);
  const rate = jobs.length / queueSeconds;
  const plainRate = jobs.length / plainSeconds;
  const preparedRate = jobs.length / preparedSeconds;
  const width = 52;
  process.stdout.write(`\n${'path'.padEnd(width)} ${'events/s'.padStart(9)}\n`);
  process.stdout.write(`${'queue → worker → PostgreSQL'.padEnd(width)} ${rate.toFixed(0).padStart(9)}\n`);
  process.stdout.write(`${'plain pg, one transaction per event'.padEnd(width)} ${plainRate.toFixed(0).padStart(9)}\n`);
  process.stdout.write(`${'plain pg, one transaction per event, prepared'.padEnd(width)} ${preparedRate.toFixed(0).padStart(9)}\n`);
  process.stdout.write(`\nratio worker/plain: ${(rate / plainRate).toFixed(2)}; environments ${envs}, deployments ${deployments}, failed jobs ${failed.failed}\n`);
  process.stdout.write(`ratio worker/plain prepared: ${(rate / preparedRate).toFixed(2)}\n`);
  process.stdout.write(`webhook job (taken → applied, follow-ups queued): p50 ${percentile(processing, 50)} ms, p99 ${percentile(processing, 99)} ms\n`);
  process.stdout.write(`every delivery applied after ${queueSeconds.toFixed(1)} s; their deploys and feedback done after ${drainedSeconds.toFixed(1)} s\n`);

  const result = [
    { bench: 'worker', measure: `${jobs.length} events, ${PRS} PRs`, rps: rate, p99: percentile(processing, 99), baseline: plainRate, ratio: rate / plainRate, baselinePrepared: preparedRate, ratioPrepared: rate / preparedRate, target: 'figures only', pass: failed.failed === 0 },
  ];
  process.stdout.write(`bench-result ${JSON.stringify(result)}\n`);
  for (const d of dbs) await admin.query(`DROP DATABASE ${d} WITH (FORCE)`);
  await admin.end();
  await pgServer?.stop();
  await redisServer?.stop();
  await rm(scratch, { recursive: true, force: true });
  return failed.failed === 0 && envs === PRS ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
