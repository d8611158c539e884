import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pullRequestPayload, shuffled } from '@ephemera/testkit';
import { NoneProvisioner } from '../src/provisioners/none-provisioner.js';
import type { LogSink, ProvisionResult, ProvisionTarget } from '../src/provisioners/provisioner.js';
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
});

/** A provisioner whose deploys run until the test lets them finish, or until they are abandoned (superseded). */
class HeldProvisioner extends NoneProvisioner {
  readonly started: string[] = [];
  readonly abandoned: string[] = [];
  private readonly releases = new Map<string, () => void>();
  constructor() {
    super(0);
  }
  override async update(target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<ProvisionResult> {
    return this.hold(target, log, signal);
  }
  override async provision(target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<ProvisionResult> {
    return this.hold(target, log, signal);
  }
  /** Lets the deploy of `commitSha` finish. */
  release(commitSha: string) {
    this.releases.get(commitSha)?.();
  }
  private hold(target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<ProvisionResult> {
    this.started.push(target.commitSha);
    log(`holding ${target.commitSha.slice(0, 7)}`);
    return new Promise((resolve, reject) => {
      this.releases.set(target.commitSha, () => resolve({ url: target.environmentUrl }));
      signal.addEventListener('abort', () => {
        this.abandoned.push(target.commitSha);
        reject(signal.reason as Error);
      });
    });
  }
}

describe('superseding a running deployment', () => {
  let h: Harness;
  const held = new HeldProvisioner();
  beforeAll(async () => {
    h = await startHarness({ github: false, provisioner: held });
  });
  afterAll(() => h.close());

  const until = async (what: () => Promise<boolean> | boolean, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await what())) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('a push while a deployment runs ends it FAILED naming the new commit, abandons its step, and deploys the new commit', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 9, headSha: sha(900), updatedAt: at(900) }));
    await until(() => held.started.includes(sha(900)));
    held.release(sha(900));
    await h.drain();
    await h.deliver(pullRequestPayload({ action: 'synchronize', number: 9, headSha: sha(901), updatedAt: at(901) }));
    // The deploy of 901 is running (held) when the next push arrives.
    await until(() => held.started.includes(sha(901)));
    const env = await h.db.environment.findFirstOrThrow({ where: { prNumber: 9 } });
    expect(env.status).toBe('UPDATING');
    await h.deliver(pullRequestPayload({ action: 'synchronize', number: 9, headSha: sha(902), updatedAt: at(902) }));
    await until(() => held.abandoned.includes(sha(901)));
    await until(() => held.started.includes(sha(902)));
    held.release(sha(902));
    await h.drain();

    const d901 = await h.db.deployment.findFirstOrThrow({ where: { environmentId: env.id, commitSha: sha(901) } });
    expect(d901).toMatchObject({ status: 'FAILED', errorMessage: `superseded by ${sha(902).slice(0, 7)}` });
    expect(d901.logs).toContain('holding ');
    const d902 = await h.db.deployment.findFirstOrThrow({ where: { environmentId: env.id, commitSha: sha(902) } });
    expect(d902.status).toBe('SUCCESS');
    expect(await h.db.environment.findUniqueOrThrow({ where: { id: env.id } })).toMatchObject({ status: 'READY', commitSha: sha(902) });
    // The superseded step was abandoned, not finished: 901 never became the deployed commit.
    expect(held.abandoned).toEqual([sha(901)]);
  });
});
