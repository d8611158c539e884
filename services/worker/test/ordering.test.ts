import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pullRequestPayload, shuffled } from '@ephemera/testkit';
import { at, sha, startHarness, type Harness } from './harness.js';

/** A burst of events over several PRs, in the order GitHub emitted them. */
function burst(prs: number[]): Array<Record<string, unknown>> {
  const events: Array<Record<string, unknown>> = [];
  for (const pr of prs) {
    const t = pr * 100;
    events.push(pullRequestPayload({ action: 'opened', number: pr, headSha: sha(t + 1), updatedAt: at(t + 1) }));
    events.push(pullRequestPayload({ action: 'synchronize', number: pr, headSha: sha(t + 2), updatedAt: at(t + 2) }));
    events.push(pullRequestPayload({ action: 'synchronize', number: pr, headSha: sha(t + 3), updatedAt: at(t + 3) }));
    events.push(pullRequestPayload({ action: 'edited', number: pr, headSha: sha(t + 3), updatedAt: at(t + 4), title: `PR ${pr}` }));
    if (pr % 2 === 0) events.push(pullRequestPayload({ action: 'closed', number: pr, headSha: sha(t + 3), updatedAt: at(t + 5), title: `PR ${pr}` }));
  }
  return events;
}

/** What "the same final state" means: each environment's status, commit, title and its latest deployment. */
async function finalState(h: Harness) {
  return (await h.snapshot()).map(({ pr, status, commitSha, title, latestDeployment, namespace }) => ({
    pr,
    namespace,
    status,
    commitSha,
    title,
    // A destroyed environment's deployments depend on how many pushes were applied before the close arrived;
    // what counts for it is that it is destroyed, at the PR's last commit.
    latest: status === 'DESTROYED' ? undefined : latestDeployment?.commitSha,
    latestStatus: status === 'DESTROYED' ? undefined : latestDeployment?.status,
  }));
}

describe('out of order, duplicated, and across two workers', () => {
  const prs = [1, 2, 3, 4, 5, 6];
  let reference: Awaited<ReturnType<typeof finalState>>;

  beforeAll(async () => {
    const h = await startHarness({ github: false });
    try {
      for (const e of burst(prs)) {
        await h.deliver(e);
        await h.drain();
      }
      reference = await finalState(h);
    } finally {
      await h.close();
    }
  }, 120_000);

  it('the calm in-order run ends as expected', () => {
    expect(reference).toHaveLength(prs.length);
    for (const r of reference) {
      expect(r.commitSha).toBe(sha(r.pr * 100 + 3));
      expect(r.title).toBe(`PR ${r.pr}`);
      expect(r.status).toBe(r.pr % 2 === 0 ? 'DESTROYED' : 'READY');
    }
  });

  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ github: false, runtimes: 2 });
  });
  afterAll(() => h.close());

  it('the same deliveries sent twice, shuffled, to two workers at once end in the same state', async () => {
    const events = burst(prs);
    const ids = events.map(() => crypto.randomUUID());
    const sends = shuffled([...events.keys(), ...events.keys()], 7);
    await Promise.all(sends.map((i) => h.deliver(events[i]!, 'pull_request', ids[i])));
    await h.drain();
    expect(await finalState(h)).toEqual(reference);
    expect(await h.db.processedDelivery.count()).toBe(events.length);
    expect(await h.failedJobs()).toHaveLength(0);
  }, 120_000);

  it('a late synchronize after closed does not resurrect the environment', async () => {
    await h.deliver(pullRequestPayload({ action: 'synchronize', number: 2, headSha: sha(999), updatedAt: at(203) }));
    await h.drain();
    const env = await h.db.environment.findFirstOrThrow({ where: { prNumber: 2 } });
    expect(env.status).toBe('DESTROYED');
    expect(env.commitSha).toBe(sha(203));
  });

  it('two synchronizes swapped: the older one does not move the commit back', async () => {
    await h.deliver(pullRequestPayload({ action: 'synchronize', number: 3, headSha: sha(311), updatedAt: at(311) }));
    await h.drain();
    await h.deliver(pullRequestPayload({ action: 'synchronize', number: 3, headSha: sha(310), updatedAt: at(310) }));
    await h.drain();
    const env = await h.db.environment.findFirstOrThrow({ where: { prNumber: 3 } });
    expect(env).toMatchObject({ status: 'READY', commitSha: sha(311) });
    const latest = await h.db.deployment.findFirstOrThrow({ where: { environmentId: env.id }, orderBy: { id: 'desc' } });
    expect(latest.commitSha).toBe(sha(311));
  });

  it('a newer push supersedes a running deployment: it ends FAILED naming the new commit', async () => {
    const env = await h.db.environment.findFirstOrThrow({ where: { prNumber: 5 } });
    await h.deliver(pullRequestPayload({ action: 'synchronize', number: 5, headSha: sha(520), updatedAt: at(520) }));
    // The second push follows as soon as the first has its deployment (sent together, two workers could apply
    // them in either order, and the older one would then rightly be ignored as stale).
    const deadline = Date.now() + 10_000;
    while (!(await h.db.deployment.findFirst({ where: { environmentId: env.id, commitSha: sha(520) } })) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    await h.deliver(pullRequestPayload({ action: 'synchronize', number: 5, headSha: sha(521), updatedAt: at(521) }));
    await h.drain();
    expect(await h.db.environment.findFirstOrThrow({ where: { prNumber: 5 } })).toMatchObject({ status: 'READY', commitSha: sha(521) });
    const d520 = await h.db.deployment.findFirstOrThrow({ where: { environmentId: env.id, commitSha: sha(520) } });
    // Depending on timing the first push either finished before the second arrived or was superseded by it.
    if (d520.status === 'FAILED') expect(d520.errorMessage).toBe(`superseded by ${sha(521).slice(0, 7)}`);
    else expect(d520.status).toBe('SUCCESS');
  });
});
