import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { UnrecoverableError, type Job } from 'bullmq';
import { JobSigner, createLogger } from '@ephemera/runtime';
import { AccountAllowList, CLEANUP_JOBS, ENVIRONMENT_ACTIONS, GITHUB_SYNC_JOBS, PROVISIONING_JOBS, QUEUES } from '@ephemera/schema';
import { pullRequestPayload } from '@ephemera/testkit';
import { JobRegistry, type JobDefinition } from '../src/jobs/job-registry.js';
import { destroyIdle } from '../src/jobs/cleanup/idle.js';
import { mendStuck } from '../src/jobs/cleanup/stuck.js';
import { JOBS } from '../src/jobs/index.js';
import type { JobContext } from '../src/jobs/job-context.js';
import { rateLimitWait } from '../src/github/rate-limit.js';
import { createWorkerMetrics } from '../src/metrics.js';
import { ProvisionError, type Provisioner } from '../src/provisioners/provisioner.js';
import { at, sha, signingKey, startHarness, type Harness } from './harness.js';

/** A provisioner of the test's own that fails as told: transiently `flaky` times, or for good. */
class ScriptedProvisioner implements Provisioner {
  readonly name = 'scripted';
  calls = 0;
  constructor(private readonly plan: { flaky?: number; broken?: boolean }) {}
  private async step(log: (l: string) => void) {
    this.calls++;
    log(`attempt ${this.calls}`);
    if (this.plan.broken) throw new ProvisionError('image ghcr.io/acme/app:abc not found', false, ['Failed to pull image: not found']);
    if (this.calls <= (this.plan.flaky ?? 0)) throw new ProvisionError('API server timed out', true);
    return { url: 'https://custom.example.test' };
  }
  provision(_t: never, log: (l: string) => void) {
    return this.step(log);
  }
  update(_t: never, log: (l: string) => void) {
    return this.step(log);
  }
  readonly destroyTimeout = { seconds: 0, ms: 0 };
  async destroy() {
    return 'gone' as const;
  }
  async ownedNamespaces() {
    return null;
  }
  async deleteNamespace() {}
}

describe('provisioning failures', () => {
  it('retries transient errors with backoff, then succeeds; logs keep every attempt', async () => {
    const provisioner = new ScriptedProvisioner({ flaky: 2 });
    const h = await startHarness({ github: false, provisioner, provisionAttempts: 4 });
    try {
      await h.deliver(pullRequestPayload({ action: 'opened', number: 1, headSha: sha(1), updatedAt: at(1) }));
      await h.drain();
      const env = await h.db.environment.findFirstOrThrow();
      expect(env).toMatchObject({ status: 'READY', environmentUrl: 'https://custom.example.test' });
      const dep = await h.db.deployment.findFirstOrThrow();
      expect(dep.status).toBe('SUCCESS');
      expect(dep.logs).toMatch(/attempt 1[\s\S]*API server timed out[\s\S]*attempt 2[\s\S]*attempt 3/);
      expect(provisioner.calls).toBe(3);
    } finally {
      await h.close();
    }
  }, 60_000);

  it('a permanent error leaves the environment FAILED with the reason, and the job in the failed list', async () => {
    const h = await startHarness({ github: false, provisioner: new ScriptedProvisioner({ broken: true }) });
    try {
      await h.deliver(pullRequestPayload({ action: 'opened', number: 2, headSha: sha(2), updatedAt: at(1) }));
      await h.drain();
      const env = await h.db.environment.findFirstOrThrow();
      expect(env.status).toBe('FAILED');
      expect(env.errorMessage).toMatch(/image .* not found \(Failed to pull image: not found\)/);
      expect((await h.db.deployment.findFirstOrThrow()).status).toBe('FAILED');
      const failed = await h.queues.provisioning.getFailed();
      expect(failed.map((j) => j.name)).toEqual(['provisioning.deploy']);
      // A new push retries from FAILED.
      await h.deliver(pullRequestPayload({ action: 'synchronize', number: 2, headSha: sha(3), updatedAt: at(2) }));
      await h.drain();
      expect(await h.db.deployment.count()).toBe(2);
    } finally {
      await h.close();
    }
  }, 60_000);
});

describe('GitHub feedback failures', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('retries a 5xx, drops a 422, and never holds up the environment', async () => {
    h.fakeGithub!.failNext(/\/issues\/\d+\/comments$/, 502, 1);
    h.fakeGithub!.failNext(/\/statuses\//, 422, 100);
    await h.deliver(pullRequestPayload({ action: 'opened', number: 3, headSha: sha(3), updatedAt: at(1) }));
    await h.drain();
    expect((await h.db.environment.findFirstOrThrow({ where: { prNumber: 3 } })).status).toBe('READY');
    // The 502 met the look for an existing comment (by its marker); the retry looked again, then created one.
    const lists = h.fakeGithub!.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/issues/3/comments'));
    expect(lists.length).toBeGreaterThanOrEqual(2);
    const posts = h.fakeGithub!.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/issues/3/comments'));
    expect(posts).toHaveLength(1);
    expect(h.fakeGithub!.commentsOf('Codertocat/Hello-World', 3)).toHaveLength(1);
    const failed = await h.queues.feedback.getFailed();
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((j) => /422/.test(j.failedReason))).toBe(true);
    // Dropped, not retried: each failed job asked for its commit status exactly once (a retried one would
    // have asked up to 8 times, the queue's setting); one of them also met the 502 before.
    expect(failed.every((j) => j.attemptsMade <= 2)).toBe(true);
    const statusPosts = h.fakeGithub!.requests.filter((r) => r.path.includes('/statuses/')).length;
    expect(statusPosts).toBe(failed.length);
  });
});

describe('GitHub rate limits', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('a comment creation answered with a secondary rate limit is posted after the wait GitHub asks for', async () => {
    h.fakeGithub!.rateLimitNext({ method: 'POST', path: /\/issues\/30\/comments$/ }, 'secondary', 2);
    h.fakeGithub!.rateLimitNext({ method: 'POST', path: /\/statuses\// }, 'primary', 2);
    h.fakeGithub!.rateLimitNext({ method: 'POST', path: /\/deployments$/ }, '429', 1);
    await h.deliver(pullRequestPayload({ action: 'opened', number: 30, headSha: sha(30), updatedAt: at(1) }));
    await h.drain();
    // The first creation was refused; the one that went through came after the wait, and only one comment exists.
    const posts = h.fakeGithub!.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/issues/30/comments'));
    expect(posts.length).toBeGreaterThanOrEqual(2);
    expect(posts.at(-1)!.at - posts[0]!.at).toBeGreaterThanOrEqual(1_900);
    expect(h.fakeGithub!.commentsOf('Codertocat/Hello-World', 30)).toHaveLength(1);
    const statuses = h.fakeGithub!.requests.filter((r) => r.path === `/repos/Codertocat/Hello-World/statuses/${sha(30)}`);
    expect(statuses.at(-1)?.body?.state).toBe('success');
    expect(h.fakeGithub!.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/deployments')).length).toBeGreaterThanOrEqual(2);
    // Waited for, never dropped.
    expect(await h.queues.feedback.getFailed()).toHaveLength(0);
    expect(h.logLines.some((l) => l.includes('GitHub rate limit; feedback waits as long as GitHub says'))).toBe(true);
  }, 60_000);

  it('reads the wait from retry-after, or from x-ratelimit-reset when the remaining count is 0', () => {
    const now = 1_000_000_000_000;
    const err = (status: number, headers: Record<string, string>, message = 'x') => ({ status, message, response: { headers } });
    expect(rateLimitWait(err(403, { 'retry-after': '30' }), now)).toBe(30_000);
    expect(rateLimitWait(err(429, { 'retry-after': '5' }), now)).toBe(5_000);
    expect(rateLimitWait(err(403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now / 1000 + 120) }), now)).toBe(121_000);
    expect(rateLimitWait(err(403, {}, 'You have exceeded a secondary rate limit'), now)).toBe(60_000);
    expect(rateLimitWait(err(403, { 'x-ratelimit-remaining': '12' }, 'Resource not accessible by integration'), now)).toBeNull();
    expect(rateLimitWait(err(422, { 'retry-after': '5' }), now)).toBeNull();
  });
});

describe('cleanup sweeps', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('destroys an environment with no push for the TTL and says how to bring it back', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 10, headSha: sha(10), updatedAt: at(1) }));
    await h.deliver(pullRequestPayload({ action: 'opened', number: 11, headSha: sha(11), updatedAt: at(1) }));
    await h.drain();
    const idle = await h.db.environment.findFirstOrThrow({ where: { prNumber: 10 } });
    await h.db.$executeRaw`UPDATE deployments SET created_at = now() - interval '100 hours' WHERE environment_id = ${idle.id}`;
    expect(await destroyIdle(h.jobContext())).toBe('destroyed 1 idle environment(s)');
    await h.drain();
    expect((await h.db.environment.findFirstOrThrow({ where: { prNumber: 10 } })).status).toBe('DESTROYED');
    expect((await h.db.environment.findFirstOrThrow({ where: { prNumber: 11 } })).status).toBe('READY');
    const comment = h.fakeGithub!.requests.filter((r) => r.method === 'PATCH').map((r) => String(r.body?.body)).find((b) => b.includes('no push for 72 hours'));
    expect(comment).toMatch(/Push a commit or reopen the pull request to bring it back/);

    // A push brings it back.
    await h.deliver(pullRequestPayload({ action: 'synchronize', number: 10, headSha: sha(12), updatedAt: at(2) }));
    await h.drain();
    expect((await h.db.environment.findFirstOrThrow({ where: { prNumber: 10 } })).status).toBe('READY');
  });

  it('re-queues a step whose job was lost, and fails one stuck for twice the bound', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 20, headSha: sha(20), updatedAt: at(1) }));
    await h.deliver(pullRequestPayload({ action: 'opened', number: 21, headSha: sha(21), updatedAt: at(1) }));
    await h.drain();
    // Fake what a lost job leaves: an environment mid-step with no job to finish it.
    for (const [pr, minutes] of [[20, 40], [21, 70]] as const) {
      const env = await h.db.environment.findFirstOrThrow({ where: { prNumber: pr } });
      const dep = await h.db.deployment.create({ data: { environmentId: env.id, commitSha: sha(pr + 100), status: 'IN_PROGRESS', startedAt: new Date() } });
      await h.db.$executeRaw`UPDATE environments SET status = 'UPDATING', updated_at = now() - make_interval(mins => ${minutes}) WHERE id = ${env.id}`;
      expect(dep.status).toBe('IN_PROGRESS');
    }
    expect(await mendStuck(h.jobContext())).toBe('retried 1, failed 1, destroys retried 0, waiting started 0');
    await h.drain();
    const mended = await h.db.environment.findFirstOrThrow({ where: { prNumber: 20 } });
    expect(mended.status).toBe('READY');
    const gaveUp = await h.db.environment.findFirstOrThrow({ where: { prNumber: 21 } });
    expect(gaveUp.status).toBe('FAILED');
    expect(gaveUp.errorMessage).toBe('stuck in UPDATING for more than 60 minutes');
  });
});

describe('invalid webhook jobs', () => {
  it('fail at once without retries, are logged, and change nothing', async () => {
    const h = await startHarness({ github: false });
    try {
      const bad = { event: 'pull_request', action: 'opened', deliveryId: 'not-a-guid', repository: { fullName: 'x' } };
      await h.queues.webhooks.add('pull_request.opened', h.sign(QUEUES.webhooks, 'pull_request.opened', bad), { attempts: 5, jobId: 'bad-job' });
      await h.drain();
      const job = await h.queues.webhooks.getJob('bad-job');
      expect(await job!.getState()).toBe('failed');
      expect(job!.attemptsMade).toBeLessThanOrEqual(1);
      expect(job!.failedReason).toMatch(/invalid pull_request.opened job: deliveryId/);
      expect(h.logLines.some((l) => l.includes('invalid pull_request.opened job'))).toBe(true);
      expect(await h.db.environment.count()).toBe(0);
      expect(await h.db.processedDelivery.count()).toBe(0);
    } finally {
      await h.close();
    }
  });
});

describe(JobRegistry.name, () => {
  // Checking the definitions touches none of the jobs' dependencies; only running a job would.
  const context = { logger: createLogger({ service: 'test', level: 'silent' }), metrics: createWorkerMetrics() } as JobContext;
  const all = (): JobDefinition[] => [...JOBS];
  const signer = new JobSigner(signingKey());
  const admission = { signer, accounts: AccountAllowList.ANY, rejected: createWorkerMetrics().jobsRejected };

  it("accepts the worker's own definitions: every job name of every queue has its handler", () => {
    expect(() => new JobRegistry(all(), admission)).not.toThrow();
  });

  it('runs a job through its own definition, with the payload its schema parsed', async () => {
    const seen: unknown[] = [];
    const defs = all().map((d) => (d.name === CLEANUP_JOBS.prune ? { ...d, handle: async (data: unknown) => (seen.push(data), 'pruned') } : d));
    const processor = new JobRegistry(defs, admission).processor(QUEUES.cleanup, context);
    await expect(processor({ name: CLEANUP_JOBS.prune, data: signer.sign(QUEUES.cleanup, CLEANUP_JOBS.prune, { from: 'scheduler' }) } as Job)).resolves.toBe('pruned');
    expect(seen).toEqual([{ from: 'scheduler' }]);
  });

  it('fails at start when a handler is missing, doubled or answers to a name no queue carries, naming it', () => {
    const defs = all();
    const withoutOpened = defs.filter((d) => d.name !== 'pull_request.opened');
    expect(() => new JobRegistry(withoutOpened, admission)).toThrow('ephemera-webhooks: pull_request.opened has no handler');
    const withoutResync = defs.filter((d) => d.name !== GITHUB_SYNC_JOBS.resync);
    expect(() => new JobRegistry(withoutResync, admission)).toThrow(`ephemera-github-sync: ${GITHUB_SYNC_JOBS.resync} has no handler`);
    const withoutDestroy = defs.filter((d) => d.name !== ENVIRONMENT_ACTIONS.destroy);
    expect(() => new JobRegistry(withoutDestroy, admission)).toThrow(`ephemera-actions: ${ENVIRONMENT_ACTIONS.destroy} has no handler`);
    expect(() => new JobRegistry([...defs, defs.find((d) => d.name === PROVISIONING_JOBS.deploy)!], admission)).toThrow(`${PROVISIONING_JOBS.deploy} has two handlers`);
    const stray = { ...defs.find((d) => d.queue === QUEUES.cleanup)!, name: 'cleanup.everything' };
    expect(() => new JobRegistry([...defs, stray], admission)).toThrow('cleanup.everything is not a job this queue carries');
  });

  it('fails a job of a name its queue does not carry at once, without running anything', async () => {
    const processor = new JobRegistry(all(), admission).processor(QUEUES.cleanup, context);
    await expect(processor({ name: 'cleanup.everything', data: signer.sign(QUEUES.cleanup, 'cleanup.everything', {}) } as Job)).rejects.toThrow(UnrecoverableError);
  });
});
