import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { appendDeploymentLogs } from '@ephemera/db';
import { recordSettledDelivery } from '@ephemera/runtime';
import type { Queue } from 'bullmq';
import { AccountAllowList, DELIVERY_DEDUP_TTL_SECONDS, GITHUB_SYNC_JOBS, PayloadError, QUEUES, deliveryAccount, trimWebhookPayload } from '@ephemera/schema';
import { pullRequestPayload } from '@ephemera/testkit';
import { IN_FLIGHT_MS, redeliverLost } from '../src/github/redelivery.js';
import { resyncWithGithub } from '../src/github/resync.js';
import { pruneData } from '../src/jobs/cleanup/prune.js';
import { at, sha, startHarness, type Harness } from './harness.js';

/**
 * Stands in for ingest, answering as it does: a delivery is queued as ingest queues it (signed, job id = delivery id);
 * one of an account outside `allowed` is answered 202 `ignored`, and one whose payload ingest refuses 400, each
 * recorded as settled where ingest records it.
 */
async function receiver(h: Harness, allowed: AccountAllowList = AccountAllowList.ANY) {
  const answer = async (event: string, deliveryId: string, body: string): Promise<[number, string]> => {
    let job;
    try {
      job = trimWebhookPayload({ event, deliveryId, receivedAt: new Date() }, JSON.parse(body));
    } catch (err) {
      if (!(err instanceof PayloadError || err instanceof SyntaxError)) throw err;
      await recordSettledDelivery(h.runtimes[0]!.redis, h.prefix, deliveryId, 'invalid', DELIVERY_DEDUP_TTL_SECONDS);
      return [400, '{"error":"invalid_payload"}'];
    }
    if (job === null) return [202, '{"status":"ignored"}'];
    if (!allowed.allows(deliveryAccount(job))) {
      await recordSettledDelivery(h.runtimes[0]!.redis, h.prefix, deliveryId, 'ignored', DELIVERY_DEDUP_TTL_SECONDS);
      return [202, '{"status":"ignored"}'];
    }
    await h.deliver(JSON.parse(body) as Record<string, unknown>, event, deliveryId);
    return [202, '{"status":"queued"}'];
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      void answer(String(req.headers['x-github-event']), String(req.headers['x-github-delivery']), body).then(
        ([status, text]) => res.writeHead(status).end(text),
        () => res.writeHead(503).end(),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('redelivery of lost deliveries', () => {
  let h: Harness;
  let ingest: Awaited<ReturnType<typeof receiver>>;
  beforeAll(async () => {
    h = await startHarness();
    // Ingest serves Codertocat (the owner of GitHub's example repository) only.
    ingest = await receiver(h, AccountAllowList.of(['Codertocat']));
    h.fakeGithub!.setWebhook(ingest.url, 'unused');
  });
  afterAll(async () => {
    await ingest.close();
    await h.close();
  });
  // GitHub's clock and the pass's move ahead together, so "older than two minutes" holds without waiting.
  let offset = 0;
  const advance = (ms: number) => {
    offset += ms;
    h.fakeGithub!.advanceClock(ms);
  };
  const pass = () =>
    redeliverLost({
      db: h.db,
      clients: h.clients!,
      webhooks: h.queues.webhooks,
      redis: h.runtimes[0]!.redis,
      prefix: h.prefix,
      accounts: h.accounts,
      logger: h.logger,
      requested: h.metrics.redeliveriesRequested,
      now: () => Date.now() + offset,
    });
  const attemptsOf = (guid: string) => h.fakeGithub!.deliveries.filter((d) => d.guid === guid).map((d) => [d.redelivery, d.status_code]);

  it('asks again for a delivery GitHub could not make, once it is older than two minutes; its effect appears', async () => {
    const lost = await h.fakeGithub!.deliver('pull_request', pullRequestPayload({ action: 'opened', number: 60, headSha: sha(60), updatedAt: at(1) }), { lost: true });
    expect(lost.status_code).toBe(0);
    // Still possibly in flight: not asked for yet.
    expect(await pass()).toBe('redeliveries requested 0');
    advance(IN_FLIGHT_MS + 1_000);
    expect(await pass()).toBe('redeliveries requested 1');
    await waitFor(async () => (await h.db.environment.findFirst({ where: { prNumber: 60 } }))?.status === 'READY');
    const attempts = h.fakeGithub!.deliveries.filter((d) => d.guid === lost.guid);
    expect(attempts.map((a) => [a.redelivery, a.status_code])).toEqual([
      [false, 0],
      [true, 202],
    ]);
    expect(await h.db.redeliveryRequest.findUnique({ where: { guid: lost.guid } })).toMatchObject({ requests: 1 });
    expect(await h.metrics.registry.getSingleMetricAsString('ephemera_redeliveries_requested_total')).toMatch(/ephemera_redeliveries_requested_total 1/);
    // Applied now: never asked for again.
    advance(IN_FLIGHT_MS + 1_000);
    expect(await pass()).toBe('redeliveries requested 0');
  });

  it('asks again for a delivery Redis lost after it was answered 202, and for one whose job failed; not for one queued, applied or unhandled', async () => {
    // Answered 202, then lost with Redis: GitHub shows it delivered, Ephemera has no trace of it.
    const gone = await h.fakeGithub!.deliver('pull_request', pullRequestPayload({ action: 'opened', number: 61, headSha: sha(61), updatedAt: at(1) }));
    await h.drain();
    await (await h.queues.webhooks.getJob(gone.guid))!.remove();
    await h.db.processedDelivery.delete({ where: { deliveryId: gone.guid } });
    // Its job failed for good.
    const failed = await h.fakeGithub!.deliver('pull_request', pullRequestPayload({ action: 'opened', number: 62, headSha: sha(62), updatedAt: at(1) }), { lost: true });
    await h.queues.webhooks.add('pull_request.opened', h.sign(QUEUES.webhooks, 'pull_request.opened', { broken: true }), { jobId: failed.guid, attempts: 1 });
    await waitFor(async () => (await (await h.queues.webhooks.getJob(failed.guid))?.getState()) === 'failed');
    // Queued and waiting (delayed): in flight, not lost.
    const waiting = await h.fakeGithub!.deliver('pull_request', pullRequestPayload({ action: 'opened', number: 63, headSha: sha(63), updatedAt: at(1) }), { lost: true });
    await h.queues.webhooks.add('pull_request.opened', h.sign(QUEUES.webhooks, 'pull_request.opened', { later: true }), { jobId: waiting.guid, delay: 600_000 });
    // An event Ephemera does not act on.
    await h.fakeGithub!.deliver('issues', { action: 'opened', issue: { number: 1 } }, { lost: true });

    const before = h.fakeGithub!.deliveries.length;
    advance(IN_FLIGHT_MS + 1_000);
    expect(await pass()).toBe('redeliveries requested 2');
    await waitFor(async () => h.fakeGithub!.deliveries.length === before + 2);
    expect(h.fakeGithub!.deliveries.slice(before).map((d) => d.guid).sort()).toEqual([gone.guid, failed.guid].sort());
    await (await h.queues.webhooks.getJob(waiting.guid))!.remove();
  });

  it('asks at most three times for one delivery', async () => {
    const stubborn = await h.fakeGithub!.deliver('pull_request', pullRequestPayload({ action: 'opened', number: 64, headSha: sha(64), updatedAt: at(1) }), { lost: true });
    // The receiver is gone: every redelivery fails too.
    h.fakeGithub!.setWebhook('http://127.0.0.1:9/', 'unused');
    for (let i = 1; i <= 5; i++) {
      advance(IN_FLIGHT_MS + 1_000);
      await pass();
      await waitFor(async () => h.fakeGithub!.deliveries.filter((d) => d.guid === stubborn.guid).length === 1 + Math.min(i, 3));
    }
    // The first attempt and three redeliveries, no more.
    expect(h.fakeGithub!.deliveries.filter((d) => d.guid === stubborn.guid).map((d) => d.redelivery)).toEqual([false, true, true, true]);
    expect(await h.db.redeliveryRequest.findUnique({ where: { guid: stubborn.guid } })).toMatchObject({ requests: 3 });
    expect(h.logLines.some((l) => l.includes('still not applied after 3 redeliveries'))).toBe(true);
    h.fakeGithub!.setWebhook(ingest.url, 'unused');
  });

  it('never asks again for a delivery ingest answered ignored (an account not allowed) or 400; still asks for one lost', async () => {
    // A label toggled on a pull request of an account ingest does not serve, again and again.
    const toggles = [];
    for (const [i, action] of (['labeled', 'unlabeled', 'labeled'] as const).entries()) {
      toggles.push(await h.fakeGithub!.deliver('pull_request', pullRequestPayload({ action, label: 'wip', number: 65, repository: 'stranger/app', headSha: sha(65), updatedAt: at(i + 1) })));
    }
    // A delivery ingest cannot use: its signature holds, its payload lacks the pull request.
    const malformed = await h.fakeGithub!.deliver('pull_request', { action: 'opened', number: 66, repository: { full_name: 'Codertocat/Hello-World' } });
    const lost = await h.fakeGithub!.deliver('pull_request', pullRequestPayload({ action: 'opened', number: 67, headSha: sha(67), updatedAt: at(1) }), { lost: true });
    expect([...toggles, malformed].map((d) => d.status_code)).toEqual([202, 202, 202, 400]);

    for (let i = 0; i < 4; i++) {
      advance(IN_FLIGHT_MS + 1_000);
      await pass();
    }
    await waitFor(async () => (await h.db.environment.findFirst({ where: { prNumber: 67 } }))?.status === 'READY');
    for (const settled of [...toggles, malformed]) {
      expect(attemptsOf(settled.guid)).toEqual([[false, settled.status_code]]);
      expect(await h.db.redeliveryRequest.findUnique({ where: { guid: settled.guid } })).toBeNull();
    }
    expect(attemptsOf(lost.guid)).toEqual([
      [false, 0],
      [true, 202],
    ]);
    // No App request was spent on them: the one redelivery asked for is the lost one's.
    const asked = h.fakeGithub!.requests
      .filter((r) => r.method === 'POST' && /^\/app\/hook\/deliveries\/\d+\/attempts$/.test(r.path))
      .map((r) => Number(r.path.split('/')[4]));
    expect(asked).toContain(lost.id);
    for (const settled of [...toggles, malformed]) expect(asked).not.toContain(settled.id);
  });
});

describe('redelivery under ALLOWED_ACCOUNTS', () => {
  let h: Harness;
  let ingest: Awaited<ReturnType<typeof receiver>>;
  beforeAll(async () => {
    h = await startHarness({ allowedAccounts: ['Codertocat'] });
    ingest = await receiver(h, h.accounts);
    h.fakeGithub!.setWebhook(ingest.url, 'unused');
    h.fakeGithub!.setInstallation(1, 'active', { login: 'Codertocat', type: 'User' });
    h.fakeGithub!.setInstallation(2, 'active', { login: 'stranger', type: 'User' });
  });
  afterAll(async () => {
    await ingest.close();
    await h.close();
  });

  it('never asks for a lost delivery of an installation on an account outside the list; asks for an allowed one', async () => {
    let offset = 0;
    const pass = () =>
      redeliverLost({
        db: h.db,
        clients: h.clients!,
        webhooks: h.queues.webhooks,
        redis: h.runtimes[0]!.redis,
        prefix: h.prefix,
        accounts: h.accounts,
        logger: h.logger,
        requested: h.metrics.redeliveriesRequested,
        now: () => Date.now() + offset,
      });
    const theirs = await h.fakeGithub!.deliver('pull_request', pullRequestPayload({ action: 'opened', number: 5, repository: 'stranger/app', installationId: 2, headSha: sha(5), updatedAt: at(1) }), { lost: true });
    const ours = await h.fakeGithub!.deliver('pull_request', pullRequestPayload({ action: 'opened', number: 6, installationId: 1, headSha: sha(6), updatedAt: at(1) }), { lost: true });
    offset += IN_FLIGHT_MS + 1_000;
    h.fakeGithub!.advanceClock(IN_FLIGHT_MS + 1_000);
    expect(await pass()).toBe('redeliveries requested 1');
    await waitFor(async () => (await h.db.environment.findFirst({ where: { prNumber: 6 } }))?.status === 'READY');
    expect(h.fakeGithub!.deliveries.filter((d) => d.guid === theirs.guid)).toHaveLength(1);
    expect(h.fakeGithub!.deliveries.filter((d) => d.guid === ours.guid)).toHaveLength(2);
    expect(await h.db.redeliveryRequest.findUnique({ where: { guid: theirs.guid } })).toBeNull();
    expect(await h.db.environment.count({ where: { repositoryFullName: 'stranger/app' } })).toBe(0);
  });
});

describe('resynchronisation with GitHub', () => {
  const REPO = 'Codertocat/Hello-World';
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    h.fakeGithub!.setInstallation(1, 'active');
    h.fakeGithub!.setInstallationRepositories(1, [REPO]);
  });
  afterAll(() => h.close());
  const pass = () =>
    resyncWithGithub({
      db: h.db,
      clients: h.clients!,
      settings: h.settings,
      followUps: h.runtimes[0]!.followUps,
      accounts: h.accounts,
      logger: h.logger,
      corrections: h.metrics.resyncCorrections,
    });
  const pr = (v: Parameters<typeof pullRequestPayload>[0]) => pullRequestPayload(v).pull_request as Record<string, unknown>;

  it('destroys an environment whose PR was closed while the closed delivery was lost, and applies PRs never delivered', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 70, headSha: sha(70), updatedAt: at(1) }));
    await h.deliver(pullRequestPayload({ action: 'opened', number: 71, headSha: sha(71), updatedAt: at(1) }));
    await h.drain();
    // On GitHub: #70 was closed and #71 got a push, and neither delivery arrived; #72 was opened, unheard of.
    h.fakeGithub!.setPullRequest(REPO, pr({ action: 'closed', number: 70, headSha: sha(70), updatedAt: at(5), state: 'closed' }));
    h.fakeGithub!.setPullRequest(REPO, pr({ action: 'synchronize', number: 71, headSha: sha(171), updatedAt: at(6) }));
    h.fakeGithub!.setPullRequest(REPO, pr({ action: 'opened', number: 72, headSha: sha(72), updatedAt: at(7) }));
    expect(await pass()).toBe('resync: applied 2, destroyed 1, installations 0');
    await h.drain();
    const status = async (n: number) => h.db.environment.findFirst({ where: { prNumber: n }, select: { status: true, commitSha: true } });
    expect(await status(70)).toEqual({ status: 'DESTROYED', commitSha: sha(70) });
    expect(await status(71)).toEqual({ status: 'READY', commitSha: sha(171) });
    expect(await status(72)).toEqual({ status: 'READY', commitSha: sha(72) });
    const metric = await h.metrics.registry.getSingleMetricAsString('ephemera_resync_corrections_total');
    expect(metric).toMatch(/kind="destroyed"\} 1/);
    expect(metric).toMatch(/kind="applied"\} 2/);
  });

  it('asks with If-None-Match: an unchanged list (304) costs nothing and changes nothing', async () => {
    const before = h.fakeGithub!.requests.length;
    expect(await pass()).toBe('resync: applied 0, destroyed 0, installations 0');
    const lists = h.fakeGithub!.requests.slice(before).filter((r) => r.path === `/repos/${REPO}/pulls`);
    expect(lists).toHaveLength(1);
    expect(await h.db.pullListEtag.findUnique({ where: { repositoryFullName: REPO } })).toMatchObject({ etag: expect.stringMatching(/^W\//) });
  });

  it("a fork's commit it finds is held like any other the sender did not vouch for", async () => {
    h.fakeGithub!.setPullRequest(REPO, pr({ action: 'opened', number: 73, fromFork: 'stranger/Hello-World', headSha: sha(73), updatedAt: at(8) }));
    expect(await pass()).toBe('resync: applied 1, destroyed 0, installations 0');
    await h.drain();
    expect(await h.db.environment.findFirst({ where: { prNumber: 73 } })).toBeNull();
    expect((await h.db.pullRequestState.findFirstOrThrow({ where: { prNumber: 73 } })).heldSha).toBe(sha(73));
  });

  it('finds the rows of a repository made before its id was kept, whatever the case of their name', async () => {
    const opened = { action: 'opened', number: 74, headSha: sha(74), updatedAt: at(9) } as const;
    h.fakeGithub!.setPullRequest(REPO, pr(opened));
    await h.deliver(pullRequestPayload(opened));
    await h.drain();
    // Rows from before repository ids were kept, named as a rename or an older event spelled the repository.
    const legacy = { repositoryId: null, repositoryFullName: REPO.toLowerCase() };
    await h.db.pullRequestState.updateMany({ where: { prNumber: 74 }, data: legacy });
    await h.db.environment.updateMany({ where: { prNumber: 74 }, data: legacy });
    // What was applied is recognised: nothing is applied again.
    expect(await pass()).toBe('resync: applied 0, destroyed 0, installations 0');
    // #74 was closed on GitHub and the delivery was lost: its environment is found and removed.
    h.fakeGithub!.setPullRequest(REPO, pr({ ...opened, action: 'closed', updatedAt: at(10), state: 'closed' }));
    expect(await pass()).toBe('resync: applied 0, destroyed 1, installations 0');
    await h.drain();
    expect(await h.db.environment.findFirstOrThrow({ where: { prNumber: 74 }, select: { status: true } })).toEqual({ status: 'DESTROYED' });
  });

  it('removes the previews of an installation GitHub no longer lists', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 1, repository: 'gone/app', headSha: sha(80), updatedAt: at(1), installationId: 9 }));
    await h.drain();
    h.fakeGithub!.setInstallation(9, null);
    expect(await pass()).toBe('resync: applied 0, destroyed 0, installations 1');
    await h.drain();
    expect((await h.db.environment.findFirstOrThrow({ where: { repositoryFullName: 'gone/app' } })).status).toBe('DESTROYED');
    expect(await h.metrics.registry.getSingleMetricAsString('ephemera_resync_corrections_total')).toMatch(/kind="installation"\} 1/);
  });
});

describe('bounded data', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ github: false });
  });
  afterAll(() => h.close());

  it('prunes old delivery ids and long-destroyed environments with their deployments', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 90, headSha: sha(90), updatedAt: at(1) }));
    await h.deliver(pullRequestPayload({ action: 'closed', number: 90, headSha: sha(90), updatedAt: at(2) }));
    await h.deliver(pullRequestPayload({ action: 'opened', number: 91, headSha: sha(91), updatedAt: at(1) }));
    await h.drain();
    await h.db.$executeRaw`UPDATE processed_deliveries SET processed_at = now() - interval '20 days'`;
    await h.db.$executeRaw`UPDATE environments SET destroyed_at = now() - interval '100 days' WHERE pr_number = 90`;
    expect(await pruneData(h.jobContext())).toBe('pruned 3 delivery ids, 1 destroyed environments');
    expect(await h.db.environment.findMany({ select: { prNumber: true } })).toEqual([{ prNumber: 91 }]);
    expect(await h.db.deployment.count()).toBe(1);
    expect(await pruneData({ ...h.jobContext(), config: { ...h.jobContext().config, DESTROYED_RETENTION_DAYS: 0 } })).toBe('pruned 0 delivery ids, 0 destroyed environments');
  });

  it("keeps a deployment's newest log lines within the cap, cut at a line and marked", async () => {
    const dep = await h.db.deployment.findFirstOrThrow();
    const line = (i: number) => `${String(i).padStart(5, '0')} rollout progressing — café\n`;
    for (let i = 0; i < 200; i++) await appendDeploymentLogs(h.db, dep.id, line(i), 2_000);
    const logs = (await h.db.deployment.findUniqueOrThrow({ where: { id: dep.id } })).logs!;
    expect(Buffer.byteLength(logs)).toBeLessThanOrEqual(2_000);
    expect(logs).toMatch(/^\[\d+ bytes of earlier log lines cut\]\n\d{5} rollout/);
    expect(logs.endsWith(line(199))).toBe(true);
    expect(logs).not.toContain(line(0));
  });
});

describe('schedulers', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ github: false, schedule: true });
  });
  afterAll(() => h.close());

  const idsOn = async (queue: Queue) => (await queue.getJobSchedulers()).map((s) => s.key).sort();

  it('are made again when the worker reconnects to a Redis that lost them', async () => {
    const ids = async () => [...(await idsOn(h.queues.cleanup)), ...(await idsOn(h.queues.githubSync))];
    expect(await idsOn(h.queues.cleanup)).toEqual(['cleanup-idle', 'cleanup-namespaces', 'cleanup-prune', 'cleanup-stuck']);
    expect(await idsOn(h.queues.githubSync)).toEqual(['redelivery', 'resync']);
    for (const id of await idsOn(h.queues.cleanup)) await h.queues.cleanup.removeJobScheduler(id);
    for (const id of await idsOn(h.queues.githubSync)) await h.queues.githubSync.removeJobScheduler(id);
    expect(await ids()).toEqual([]);
    h.runtimes[0]!.redis.disconnect(true);
    await waitFor(async () => (await ids()).length === 6);
  });

  it('the redelivery and resync schedulers of the clean-up queue (before they had a queue of their own) are removed', async () => {
    for (const [id, name] of [['redelivery', GITHUB_SYNC_JOBS.redeliver], ['resync', GITHUB_SYNC_JOBS.resync]] as const) {
      await h.queues.cleanup.upsertJobScheduler(id, { every: 60_000 }, { name, data: h.sign(QUEUES.cleanup, name, {}) });
    }
    expect(await idsOn(h.queues.cleanup)).toEqual(['cleanup-idle', 'cleanup-namespaces', 'cleanup-prune', 'cleanup-stuck', 'redelivery', 'resync']);
    h.runtimes[0]!.redis.disconnect(true);
    await waitFor(async () => (await idsOn(h.queues.cleanup)).length === 4);
    expect(await idsOn(h.queues.cleanup)).toEqual(['cleanup-idle', 'cleanup-namespaces', 'cleanup-prune', 'cleanup-stuck']);
    expect(await idsOn(h.queues.githubSync)).toEqual(['redelivery', 'resync']);
  });
});

async function waitFor(probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
