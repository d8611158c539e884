import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Queue, type Job } from 'bullmq';
import { JOB_SIGNATURE_FIELD, JobSigner } from '@ephemera/runtime';
import {
  AccountAllowList,
  CLEANUP_JOBS,
  ENVIRONMENT_ACTIONS,
  FEEDBACK_JOB,
  GITHUB_SYNC_JOBS,
  PROVISIONING_JOBS,
  QUEUES,
  trimWebhookPayload,
  webhookJobName,
  webhookJobOptions,
  type PullRequestJob,
  type QueueName,
} from '@ephemera/schema';
import { pullRequestPayload, webhookExample } from '@ephemera/testkit';
import { resyncWithGithub } from '../src/github/resync.js';
import { JobRegistry, NOT_ALLOWED } from '../src/jobs/job-registry.js';
import { createWorkerMetrics } from '../src/metrics.js';
import { OctokitFeedback } from '../src/github/github-feedback.js';
import { mendStuck } from '../src/jobs/cleanup/stuck.js';
import { JOBS } from '../src/jobs/index.js';
import { at, sha, signingKey, startHarness, type Harness } from './harness.js';

// What the worker trusts: a job only with a signature QUEUE_SIGNING_KEY (or QUEUE_SIGNING_KEY_PREVIOUS) made, and
// only for an account of ALLOWED_ACCOUNTS.

async function waitFor(probe: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every row a delivery could have written, by table. */
async function rows(h: Harness) {
  return {
    processedDeliveries: await h.db.processedDelivery.count(),
    pullRequestStates: await h.db.pullRequestState.count(),
    environments: await h.db.environment.count(),
    deployments: await h.db.deployment.count(),
  };
}
const NOTHING = { processedDeliveries: 0, pullRequestStates: 0, environments: 0, deployments: 0 };

/** A delivery trimmed as ingest trims it, with a title no log line may repeat. */
function delivery(number: number, repository?: string) {
  const deliveryId = randomUUID();
  const payload = pullRequestPayload({ action: 'opened', number, headSha: sha(number), updatedAt: at(1), title: `private title ${number}`, ...(repository ? { repository } : {}) });
  const job = trimWebhookPayload({ event: 'pull_request', deliveryId, receivedAt: new Date() }, payload) as PullRequestJob;
  return { job, name: webhookJobName(job), deliveryId };
}

describe('queue jobs carry proof of origin', () => {
  let h: Harness;
  /** Redis as anyone who reaches it writes to it: BullMQ's own Queue, no signature. */
  let byHand: Record<QueueName, Queue>;
  beforeAll(async () => {
    h = await startHarness({ github: false });
    byHand = Object.fromEntries(Object.values(QUEUES).map((name) => [name, new Queue(name, { connection: { url: h.redisUrl }, prefix: h.prefix })])) as Record<QueueName, Queue>;
  });
  afterAll(async () => {
    await Promise.all(Object.values(byHand).map((q) => q.close()));
    await h.close();
  });

  const failed = async (queue: QueueName, jobId: string) => {
    await waitFor(async () => (await (await byHand[queue].getJob(jobId))?.getState()) === 'failed', `${jobId} to fail`);
    return (await byHand[queue].getJob(jobId))!;
  };
  const rejected = async () => h.metrics.registry.getSingleMetricAsString('ephemera_jobs_rejected_total');

  it('a job written to Redis without a signature is refused for good: not retried, logged without its payload, counted, nothing written', async () => {
    const { job, name, deliveryId } = delivery(1);
    await byHand[QUEUES.webhooks].add(name, job, { ...webhookJobOptions(job), jobId: deliveryId });
    const refused = await failed(QUEUES.webhooks, deliveryId);
    expect(refused.failedReason).toBe('refused: missing signature');
    // UnrecoverableError: one attempt of the twelve a delivery gets.
    expect(refused.attemptsMade).toBe(1);
    expect(await rows(h)).toEqual(NOTHING);
    const logged = h.logLines.filter((l) => l.includes(deliveryId));
    expect(logged.some((l) => /job refused: it carries no signature/.test(l) && l.includes('"queue":"ephemera-webhooks"') && l.includes('"name":"pull_request.opened"'))).toBe(true);
    expect(h.logLines.some((l) => l.includes('private title 1'))).toBe(false);
    expect(await rejected()).toMatch(/ephemera_jobs_rejected_total\{reason="missing",queue="ephemera-webhooks"\} 1/);
  });

  it('a job with a wrong HMAC is refused as invalid: another key, a payload changed after signing, a signature moved to another job name or queue', async () => {
    const other = new JobSigner(signingKey());
    const a = delivery(2);
    const b = delivery(3);
    const c = delivery(4);
    const d = delivery(5);
    const cases: Array<[string, string, object]> = [
      [a.deliveryId, a.name, other.sign(QUEUES.webhooks, a.name, a.job)],
      [b.deliveryId, b.name, { ...h.sign(QUEUES.webhooks, b.name, b.job), pullRequest: { ...b.job.pullRequest, headSha: sha(99) } }],
      [c.deliveryId, 'pull_request.closed', h.sign(QUEUES.webhooks, c.name, { ...c.job, action: 'closed' })],
      [d.deliveryId, d.name, h.sign(QUEUES.actions, d.name, d.job)],
      // Not even the shape of a signature.
    ];
    for (const [jobId, name, data] of cases) await byHand[QUEUES.webhooks].add(name, data, { attempts: 12, jobId });
    const e = delivery(6);
    await byHand[QUEUES.webhooks].add(e.name, { ...e.job, [JOB_SIGNATURE_FIELD]: 'sha256=nope' }, { attempts: 12, jobId: e.deliveryId });
    for (const jobId of [...cases.map(([id]) => id), e.deliveryId]) {
      const refused = await failed(QUEUES.webhooks, jobId);
      expect(refused.failedReason).toBe('refused: invalid signature');
      expect(refused.attemptsMade).toBe(1);
    }
    expect(await rows(h)).toEqual(NOTHING);
    expect(await rejected()).toMatch(/ephemera_jobs_rejected_total\{reason="invalid",queue="ephemera-webhooks"\} 5/);
    // The same delivery signed with QUEUE_SIGNING_KEY is applied.
    const good = delivery(7);
    await h.queues.webhooks.add(good.name, h.sign(QUEUES.webhooks, good.name, good.job), { ...webhookJobOptions(good.job), jobId: good.deliveryId });
    await h.drain();
    expect((await h.db.environment.findFirstOrThrow({ where: { prNumber: 7 } })).status).toBe('READY');
  });

  it('on every queue: an unsigned redeploy, deploy, feedback or sweep job is refused before its handler runs', async () => {
    const env = await h.db.environment.findFirstOrThrow({ where: { prNumber: 7 } });
    const before = await h.snapshot();
    const unsigned: Array<[QueueName, string, object]> = [
      [QUEUES.actions, ENVIRONMENT_ACTIONS.destroy, { requestId: randomUUID(), environmentId: env.id, requestedBy: { kind: 'operator', login: 'admin' }, requestedAt: new Date().toISOString() }],
      [QUEUES.provisioning, PROVISIONING_JOBS.destroy, { environmentId: env.id, deploymentId: null }],
      [QUEUES.feedback, FEEDBACK_JOB, { repositoryId: null, repositoryFullName: env.repositoryFullName, prNumber: 7, installationId: 1 }],
      [QUEUES.cleanup, CLEANUP_JOBS.prune, {}],
    ];
    for (const [queue, name, data] of unsigned) {
      const jobId = `by-hand-${randomUUID()}`;
      await byHand[queue].add(name, data, { attempts: 5, jobId });
      expect((await failed(queue, jobId)).failedReason).toBe('refused: missing signature');
    }
    expect(await h.snapshot()).toEqual(before);
    const metric = await rejected();
    for (const [queue] of unsigned) expect(metric).toMatch(new RegExp(`ephemera_jobs_rejected_total\\{reason="missing",queue="${queue}"\\} 1`));
  });

  it('accepts a job signed with QUEUE_SIGNING_KEY_PREVIOUS, for a rotation', async () => {
    const previous = signingKey();
    const rotated = await startHarness({ github: false, previousSigningKey: previous });
    try {
      const { job, name, deliveryId } = delivery(8);
      await rotated.queues.webhooks.add(name, new JobSigner(previous).sign(QUEUES.webhooks, name, job), { ...webhookJobOptions(job), jobId: deliveryId });
      await rotated.drain();
      expect((await rotated.db.environment.findFirstOrThrow({ where: { prNumber: 8 } })).status).toBe('READY');
      // What the worker queued itself meanwhile (the deploy, the feedback) it signed with the current key.
      const deploy = (await rotated.queues.provisioning.getCompleted())[0]!;
      expect(new JobSigner(rotated.signingKey).verify(QUEUES.provisioning, deploy.name, deploy.data).ok).toBe(true);
      expect(new JobSigner(previous).verify(QUEUES.provisioning, deploy.name, deploy.data).ok).toBe(false);
      expect(await rotated.failedJobs()).toEqual([]);
    } finally {
      await rotated.close();
    }
  });

  it("the sweeps' schedulers queue signed jobs, which run", async () => {
    const scheduled = await startHarness({ github: false, schedule: true });
    try {
      const cleanup = scheduled.queues.cleanup;
      const sweeps = [CLEANUP_JOBS.idle, CLEANUP_JOBS.namespaces, CLEANUP_JOBS.prune, CLEANUP_JOBS.stuck];
      const passes = [GITHUB_SYNC_JOBS.redeliver, GITHUB_SYNC_JOBS.resync];
      const madeOn = async (queue: Queue) => queue.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed']);
      const made = () => madeOn(cleanup);
      // Each scheduler has made its job (the first may have run already; the rest wait for their time).
      await waitFor(async () => new Set((await made()).map((j) => j.name)).size === sweeps.length, 'a job of every scheduler');
      await waitFor(async () => new Set((await madeOn(scheduled.queues.githubSync)).map((j) => j.name)).size === passes.length, 'a job of every GitHub sync scheduler');
      const jobs = await made();
      expect([...new Set(jobs.map((j) => j.name))].sort()).toEqual([...sweeps].sort());
      for (const j of jobs) expect(scheduled.signer.verify(QUEUES.cleanup, j.name, j.data)).toMatchObject({ ok: true });
      const syncJobs = await madeOn(scheduled.queues.githubSync);
      expect([...new Set(syncJobs.map((j) => j.name))].sort()).toEqual([...passes].sort());
      for (const j of syncJobs) expect(scheduled.signer.verify(QUEUES.githubSync, j.name, j.data)).toMatchObject({ ok: true });
      // One run to the end: promoted if it still waits for its time.
      const prune = jobs.find((j) => j.name === CLEANUP_JOBS.prune)!;
      if (await prune.isDelayed()) await prune.promote();
      await waitFor(async () => (await cleanup.getJob(prune.id!))?.finishedOn !== undefined, 'the prune sweep to run');
      const ran = (await cleanup.getJob(prune.id!))!;
      expect(ran.failedReason).toBeUndefined();
      expect(ran.returnvalue).toMatch(/^pruned /);
      expect(await cleanup.getFailedCount()).toBe(0);
      expect(await scheduled.metrics.registry.getSingleMetricAsString('ephemera_jobs_rejected_total')).not.toMatch(/ephemera_jobs_rejected_total\{/);
    } finally {
      await scheduled.close();
    }
  });
});

describe('ALLOWED_ACCOUNTS in the worker', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ allowedAccounts: ['Codertocat'] });
  });
  afterAll(() => h.close());

  it('a delivery of an account outside the list that reaches the worker writes nothing and asks GitHub nothing', async () => {
    const outsider = await h.deliver(pullRequestPayload({ action: 'opened', number: 1, repository: 'stranger/app', headSha: sha(1), updatedAt: at(1) }));
    const installation = webhookExample('installation', 'deleted') as { installation: { account: { login: string } } };
    installation.installation.account.login = 'stranger';
    const uninstalled = await h.deliver(installation as unknown as Record<string, unknown>, 'installation');
    await h.drain();
    for (const id of [outsider, uninstalled]) {
      const job = (await h.queues.webhooks.getJob(id))!;
      expect(await job.getState()).toBe('completed');
      expect(job.returnvalue).toBe(NOT_ALLOWED);
    }
    expect(await rows(h)).toEqual(NOTHING);
    expect(h.fakeGithub!.requests).toEqual([]);
    expect(h.logLines.filter((l) => l.includes('not in ALLOWED_ACCOUNTS') && l.includes('"account":"stranger"'))).toHaveLength(2);
    expect(await h.metrics.registry.getSingleMetricAsString('worker_jobs_total')).toMatch(/queue="ephemera-webhooks",name="pull_request.opened",outcome="not_allowed"\} 1/);
  });

  it("a delivery of an allowed account, in any case, is applied as ever", async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 2, repository: 'CODERTOCAT/Hello-World', headSha: sha(2), updatedAt: at(1) }));
    await h.drain();
    expect((await h.db.environment.findFirstOrThrow({ where: { prNumber: 2 } })).status).toBe('READY');
  });

  it('an environment whose account left the list gets no redeploy, deploy or feedback; a destroy still removes it', async () => {
    const env = await h.db.environment.findFirstOrThrow({ where: { prNumber: 2 } });
    const latest = await h.db.deployment.findFirstOrThrow({ where: { environmentId: env.id }, orderBy: { id: 'desc' } });
    // The same definitions as the running worker, admitted under a list that no longer holds Codertocat.
    const context = { ...h.jobContext(), logger: h.logger, github: new OctokitFeedback(h.clients!) };
    const served: QueueName[] = [QUEUES.actions, QUEUES.provisioning, QUEUES.feedback];
    const registry = new JobRegistry(JOBS.filter((d) => served.includes(d.queue)), {
      signer: h.signer,
      accounts: AccountAllowList.of(['octo-org']),
      rejected: createWorkerMetrics().jobsRejected,
    }, {
      [QUEUES.webhooks]: [],
      [QUEUES.provisioning]: Object.values(PROVISIONING_JOBS),
      [QUEUES.feedback]: [FEEDBACK_JOB],
      [QUEUES.cleanup]: [],
      [QUEUES.actions]: Object.values(ENVIRONMENT_ACTIONS),
      [QUEUES.githubSync]: [],
    });
    const run = (queue: QueueName, name: string, data: object) =>
      registry.processor(queue, context)({ id: randomUUID(), name, data: h.sign(queue, name, data), attemptsMade: 0, opts: { attempts: 1 } } as unknown as Job);
    const action = () => ({ requestId: randomUUID(), environmentId: env.id, requestedBy: { kind: 'operator', login: 'admin' }, requestedAt: new Date().toISOString() });
    const before = await h.snapshot();
    const asked = h.fakeGithub!.requests.length;
    expect(await run(QUEUES.actions, ENVIRONMENT_ACTIONS.redeploy, action())).toBe(NOT_ALLOWED);
    expect(await run(QUEUES.provisioning, PROVISIONING_JOBS.deploy, { environmentId: env.id, deploymentId: latest.id })).toBe(NOT_ALLOWED);
    expect(await run(QUEUES.feedback, FEEDBACK_JOB, { repositoryId: null, repositoryFullName: env.repositoryFullName, prNumber: 2, installationId: 1 })).toBe(NOT_ALLOWED);
    expect(await h.snapshot()).toEqual(before);
    expect(h.fakeGithub!.requests.length).toBe(asked);
    expect(await run(QUEUES.actions, ENVIRONMENT_ACTIONS.destroy, action())).toBe('destroy queued');
    await h.drain();
    expect((await h.db.environment.findUniqueOrThrow({ where: { id: env.id } })).status).toBe('DESTROYED');
  });

  it('the stuck sweep mends only the steps of allowed accounts', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 3, headSha: sha(3), updatedAt: at(1) }));
    await h.drain();
    const env = await h.db.environment.findFirstOrThrow({ where: { prNumber: 3 } });
    // A step whose job was lost: the stuck sweep queues it again, for an account it serves.
    await h.db.deployment.create({ data: { environmentId: env.id, commitSha: sha(103), status: 'IN_PROGRESS', startedAt: new Date() } });
    await h.db.$executeRaw`UPDATE environments SET status = 'UPDATING', updated_at = now() - interval '40 minutes' WHERE id = ${env.id}`;
    const elsewhere = { ...h.jobContext(), accounts: AccountAllowList.of(['octo-org']) };
    expect(await mendStuck(elsewhere)).toBe('retried 0, failed 0, destroys retried 0, waiting started 0');
    expect((await h.db.environment.findUniqueOrThrow({ where: { id: env.id } })).status).toBe('UPDATING');
    expect(await mendStuck(h.jobContext())).toBe('retried 1, failed 0, destroys retried 0, waiting started 0');
    await h.drain();
    expect((await h.db.environment.findUniqueOrThrow({ where: { id: env.id } })).status).toBe('READY');
  });

  it('the resync ignores an installation on an account outside the list: nothing of it is listed or applied', async () => {
    h.fakeGithub!.setInstallation(1, 'active', { login: 'Codertocat', type: 'User' });
    h.fakeGithub!.setInstallationRepositories(1, ['Codertocat/Hello-World']);
    h.fakeGithub!.setInstallation(2, 'active', { login: 'stranger', type: 'User' });
    h.fakeGithub!.setInstallationRepositories(2, ['stranger/app']);
    const pr = (repository: string, number: number, n: number) => pullRequestPayload({ action: 'opened', number, repository, headSha: sha(number), updatedAt: at(n) }).pull_request as Record<string, unknown>;
    // Open on GitHub: #3 as applied, #40 never delivered; and the stranger's #41.
    h.fakeGithub!.setPullRequest('Codertocat/Hello-World', pr('Codertocat/Hello-World', 3, 1));
    h.fakeGithub!.setPullRequest('Codertocat/Hello-World', pr('Codertocat/Hello-World', 40, 5));
    h.fakeGithub!.setPullRequest('stranger/app', pr('stranger/app', 41, 5));
    const before = h.fakeGithub!.requests.length;
    const result = await resyncWithGithub({
      db: h.db,
      clients: h.clients!,
      settings: h.settings,
      followUps: h.runtimes[0]!.followUps,
      accounts: h.accounts,
      logger: h.logger,
      corrections: h.metrics.resyncCorrections,
    });
    expect(result).toBe('resync: applied 1, destroyed 0, installations 0');
    await h.drain();
    expect((await h.db.environment.findFirstOrThrow({ where: { prNumber: 40 } })).status).toBe('READY');
    expect(await h.db.environment.count({ where: { repositoryFullName: 'stranger/app' } })).toBe(0);
    expect(await h.db.pullRequestState.count({ where: { repositoryFullName: 'stranger/app' } })).toBe(0);
    const asked = h.fakeGithub!.requests.slice(before).map((r) => `${r.method} ${r.path}`);
    expect(asked.filter((r) => r.includes('stranger') || r.includes('/app/installations/2'))).toEqual([]);
  });
});
