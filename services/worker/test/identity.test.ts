import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createEnvironment } from '@ephemera/db';
import { pullRequestPayload, repositoryIdOf } from '@ephemera/testkit';
import { at, sha, startHarness, type Harness } from './harness.js';

const ID = repositoryIdOf('acme/shop');

describe('pull requests are keyed on the repository id, which renames and transfers keep', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ github: false });
  });
  afterAll(() => h.close());

  it('a renamed, then transferred, then case-renamed repository keeps its environment, namespace and history', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', repository: 'acme/shop', repositoryId: ID, number: 1, headSha: sha(1), updatedAt: at(1) }));
    await h.drain();
    const before = await h.db.environment.findFirstOrThrow({ where: { repositoryId: BigInt(ID), prNumber: 1 } });
    expect(before).toMatchObject({ status: 'READY', repositoryFullName: 'acme/shop' });

    const names = ['acme/storefront', 'retail/storefront', 'Retail/StoreFront'];
    for (const [i, name] of names.entries()) {
      await h.deliver(pullRequestPayload({ action: 'synchronize', repository: name, repositoryId: ID, number: 1, headSha: sha(10 + i), updatedAt: at(10 + i) }));
      await h.drain();
      const env = await h.db.environment.findFirstOrThrow({ where: { repositoryId: BigInt(ID), prNumber: 1 } });
      expect(env).toMatchObject({ id: before.id, namespace: before.namespace, status: 'READY', commitSha: sha(10 + i), repositoryFullName: name, repositoryName: name.split('/')[1] });
    }
    expect(await h.db.environment.count({ where: { prNumber: 1 } })).toBe(1);
    const deployments = await h.db.deployment.findMany({ where: { environmentId: before.id }, orderBy: { id: 'asc' } });
    expect(deployments.map((d) => [d.commitSha, d.status])).toEqual([
      [sha(1), 'SUCCESS'],
      [sha(10), 'SUCCESS'],
      [sha(11), 'SUCCESS'],
      [sha(12), 'SUCCESS'],
    ]);
    const states = await h.db.pullRequestState.findMany({ where: { prNumber: 1 } });
    expect(states).toHaveLength(1);
    expect(states[0]).toMatchObject({ repositoryId: BigInt(ID), repositoryFullName: 'Retail/StoreFront' });

    // Closing under the latest name tears down the one environment.
    await h.deliver(pullRequestPayload({ action: 'closed', repository: 'Retail/StoreFront', repositoryId: ID, number: 1, headSha: sha(12), updatedAt: at(20) }));
    await h.drain();
    expect(await h.db.environment.findUniqueOrThrow({ where: { id: before.id } })).toMatchObject({ status: 'DESTROYED' });
  });

  it('a new repository that takes the old name is another repository: its own environment and namespace', async () => {
    const newcomer = ID + 1;
    await h.deliver(pullRequestPayload({ action: 'opened', repository: 'acme/shop', repositoryId: newcomer, number: 1, headSha: sha(30), updatedAt: at(30) }));
    await h.drain();
    const envs = await h.db.environment.findMany({ where: { prNumber: 1 }, orderBy: { id: 'asc' } });
    expect(envs.map((e) => [Number(e.repositoryId), e.repositoryFullName, e.status])).toEqual([
      [ID, 'Retail/StoreFront', 'DESTROYED'],
      [newcomer, 'acme/shop', 'READY'],
    ]);
    expect(envs[1]!.namespace).not.toBe(envs[0]!.namespace);
  });

  it('an environment made before ids were kept is found by name and takes the id from its next event', async () => {
    const legacy = await createEnvironment(h.db, {
      repositoryId: null,
      repositoryFullName: 'old/app',
      prNumber: 4,
      branchName: 'feature',
      commitSha: sha(40),
      installationId: 1,
      status: 'READY',
      previewBaseDomain: 'preview.test',
    });
    await h.db.environment.update({ where: { id: legacy.id }, data: { lastDeployedAt: new Date() } });
    await h.deliver(pullRequestPayload({ action: 'synchronize', repository: 'old/app', number: 4, headSha: sha(41), updatedAt: at(41) }));
    await h.drain();
    const env = await h.db.environment.findUniqueOrThrow({ where: { id: legacy.id } });
    expect(env).toMatchObject({ repositoryId: BigInt(repositoryIdOf('old/app')), namespace: legacy.namespace, status: 'READY', commitSha: sha(41) });
    expect(await h.db.environment.count({ where: { prNumber: 4 } })).toBe(1);
  });
});

describe('events of the same second that disagree are settled by GitHub', () => {
  const REPO = 'Codertocat/Hello-World';
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    h.fakeGithub!.setInstallation(1, 'active');
  });
  afterAll(() => h.close());
  const conflicts = async () => (await h.metrics.registry.getSingleMetric('ephemera_same_second_conflicts_resolved_total')?.get())?.values[0]?.value ?? 0;

  it('closed, then a reopen of the same second: GitHub says open, so the preview comes back', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 50, headSha: sha(50), updatedAt: at(1) }));
    await h.drain();
    await h.deliver(pullRequestPayload({ action: 'closed', number: 50, headSha: sha(50), updatedAt: at(2) }));
    await h.drain();
    expect(await h.db.environment.findFirstOrThrow({ where: { prNumber: 50 } })).toMatchObject({ status: 'DESTROYED' });
    const before = await conflicts();
    h.fakeGithub!.setPullRequest(REPO, pullRequestPayload({ action: 'reopened', number: 50, headSha: sha(50), updatedAt: at(2) }).pull_request as Record<string, unknown>);
    await h.deliver(pullRequestPayload({ action: 'reopened', number: 50, headSha: sha(50), updatedAt: at(2) }));
    await h.drain();
    expect(await h.db.environment.findFirstOrThrow({ where: { prNumber: 50 } })).toMatchObject({ status: 'READY' });
    expect(await conflicts()).toBe(before + 1);
    expect(h.fakeGithub!.requests.some((r) => r.method === 'GET' && r.path === `/repos/${REPO}/pulls/50`)).toBe(true);
  });

  it('a push, then a close of the same second: GitHub says closed, so the preview goes', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 51, headSha: sha(51), updatedAt: at(1) }));
    await h.drain();
    await h.deliver(pullRequestPayload({ action: 'synchronize', number: 51, headSha: sha(52), updatedAt: at(3) }));
    await h.drain();
    h.fakeGithub!.setPullRequest(REPO, pullRequestPayload({ action: 'closed', number: 51, headSha: sha(52), updatedAt: at(3) }).pull_request as Record<string, unknown>);
    await h.deliver(pullRequestPayload({ action: 'closed', number: 51, headSha: sha(52), updatedAt: at(3) }));
    await h.drain();
    expect(await h.db.environment.findFirstOrThrow({ where: { prNumber: 51 } })).toMatchObject({ status: 'DESTROYED' });
  });

  it('a reopen that GitHub has since seen closed again (same second) changes nothing: arrival order does not decide', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 53, headSha: sha(53), updatedAt: at(1) }));
    await h.drain();
    await h.deliver(pullRequestPayload({ action: 'closed', number: 53, headSha: sha(53), updatedAt: at(4) }));
    await h.drain();
    // The reopen happened first, within the same second, and its delivery arrives last.
    h.fakeGithub!.setPullRequest(REPO, pullRequestPayload({ action: 'closed', number: 53, headSha: sha(53), updatedAt: at(4) }).pull_request as Record<string, unknown>);
    await h.deliver(pullRequestPayload({ action: 'reopened', number: 53, headSha: sha(53), updatedAt: at(4) }));
    await h.drain();
    const env = await h.db.environment.findFirstOrThrow({ where: { prNumber: 53 } });
    expect(env.status).toBe('DESTROYED');
    expect(await h.db.deployment.count({ where: { environmentId: env.id } })).toBe(1);
  });

  it('events of the same second that agree (opened, then labeled) apply in turn without asking GitHub', async () => {
    const asked = () => h.fakeGithub!.requests.filter((r) => r.method === 'GET' && r.path === `/repos/${REPO}/pulls/54`).length;
    await h.deliver(pullRequestPayload({ action: 'opened', number: 54, headSha: sha(54), updatedAt: at(5) }));
    await h.drain();
    await h.deliver(pullRequestPayload({ action: 'edited', number: 54, headSha: sha(54), updatedAt: at(5), title: 'Same second, same PR' }));
    await h.drain();
    expect(await h.db.environment.findFirstOrThrow({ where: { prNumber: 54 } })).toMatchObject({ status: 'READY', prTitle: 'Same second, same PR' });
    expect(asked()).toBe(0);
  });
});

describe('installation events advance the stale-event guard', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('a pull_request event from before a confirmed suspension, arriving after it, does not bring the preview back', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 60, headSha: sha(60), updatedAt: at(1) }));
    await h.drain();
    h.fakeGithub!.setInstallation(1, 'suspended');
    await h.deliver({ action: 'suspend', installation: { id: 1, account: { login: 'Codertocat' } }, sender: { login: 'Codertocat', id: 1 } }, 'installation');
    await h.drain();
    expect(await h.db.environment.findFirstOrThrow({ where: { prNumber: 60 } })).toMatchObject({ status: 'DESTROYED' });
    const state = await h.db.pullRequestState.findFirstOrThrow({ where: { prNumber: 60 } });
    expect(state.lastEventAt!.getTime()).toBeGreaterThan(Date.parse(at(1)));

    // A push made before the suspension, delivered late.
    await h.deliver(pullRequestPayload({ action: 'synchronize', number: 60, headSha: sha(61), updatedAt: at(2) }));
    await h.drain();
    const env = await h.db.environment.findFirstOrThrow({ where: { prNumber: 60 } });
    expect(env).toMatchObject({ status: 'DESTROYED', commitSha: sha(60) });
    expect(await h.db.deployment.count({ where: { environmentId: env.id } })).toBe(1);
  });
});
