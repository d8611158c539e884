import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pullRequestPayload, type FakeGithub } from '@ephemera/testkit';
import { NoneProvisioner } from '../src/provisioners/none-provisioner.js';
import type { LogSink, ProvisionTarget } from '../src/provisioners/provisioner.js';
import { at, sha, startHarness, type Harness } from './harness.js';

/**
 * The none provisioner, which for the commits named first waits (10 s at most) until GitHub shows their status
 * pending: the report of a deployment under way is then always sent, where a busy machine could otherwise coalesce
 * it into the final one (which is right, but leaves nothing to assert).
 */
class AfterPending extends NoneProvisioner {
  constructor(
    private readonly github: FakeGithub,
    private readonly hold: ReadonlySet<string>,
  ) {
    super(20);
  }
  override async provision(target: ProvisionTarget, log: LogSink, signal: AbortSignal) {
    const pending = () => this.github.requests.some((r) => r.path.endsWith(`/statuses/${target.commitSha}`) && r.body?.state === 'pending');
    for (const deadline = Date.now() + 10_000; this.hold.has(target.commitSha) && !pending() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    return super.provision(target, log, signal);
  }
}

const REPO = 'Codertocat/Hello-World';

describe('a pull request from opened to closed, reopened and closed again', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ provisionerFor: ({ fakeGithub }) => new AfterPending(fakeGithub, new Set([sha(1)])) });
  });
  afterAll(() => h.close());

  it('opened: environment PENDING → READY with its first deployment, comment, status and GitHub deployment', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 7, headSha: sha(1), updatedAt: at(1) }));
    await h.drain();
    const env = await h.db.environment.findFirstOrThrow({ where: { prNumber: 7 } });
    expect(env.status).toBe('READY');
    expect(env.commitSha).toBe(sha(1));
    expect(env.environmentUrl).toBe(`https://${env.namespace}.preview.test`);
    expect(env.lastDeployedAt).toBeInstanceOf(Date);
    const owner = await h.db.user.findUniqueOrThrow({ where: { id: env.ownerId! } });
    expect(owner.githubLogin).toBe('Codertocat');
    const deployments = await h.db.deployment.findMany({ where: { environmentId: env.id } });
    expect(deployments).toHaveLength(1);
    expect(deployments[0]).toMatchObject({ status: 'SUCCESS', commitSha: sha(1) });
    expect(deployments[0]!.startedAt).toBeInstanceOf(Date);
    expect(deployments[0]!.completedAt).toBeInstanceOf(Date);
    expect(deployments[0]!.logs).toMatch(/namespace .* created/);
    expect(deployments[0]!.githubDeploymentId).not.toBeNull();

    const reqs = h.fakeGithub!.requests;
    expect(reqs.filter((r) => r.method === 'POST' && r.path.endsWith('/issues/7/comments'))).toHaveLength(1);
    const statuses = reqs.filter((r) => r.path === `/repos/${REPO}/statuses/${sha(1)}`);
    expect(statuses.map((r) => r.body?.state)).toContain('pending');
    expect(statuses.at(-1)?.body).toMatchObject({ state: 'success', context: 'ephemera/preview', target_url: env.environmentUrl });
    const ghDeployments = reqs.filter((r) => r.method === 'POST' && r.path === `/repos/${REPO}/deployments`);
    expect(ghDeployments).toHaveLength(1);
    expect(ghDeployments[0]!.body).toMatchObject({ ref: sha(1), environment: 'preview/pr-7', transient_environment: true });
    const depStatuses = reqs.filter((r) => /\/deployments\/\d+\/statuses$/.test(r.path)).map((r) => r.body?.state);
    expect(depStatuses).toContain('success');
    expect(reqs.find((r) => /\/deployments\/\d+\/statuses$/.test(r.path) && r.body?.state === 'success')?.body?.environment_url).toBe(env.environmentUrl);
    // Installation tokens come from the App's JWT, then feedback uses the token.
    expect(reqs.some((r) => r.path === '/app/installations/1/access_tokens' && /^bearer /i.test(r.authorization ?? ''))).toBe(true);
    expect(reqs.filter((r) => r.path.startsWith('/repos/')).every((r) => r.authorization === 'token ghs_fake1')).toBe(true);
  });

  it('synchronize twice: a deployment per push, commit status on each sha, still one comment', async () => {
    await h.deliver(pullRequestPayload({ action: 'synchronize', number: 7, headSha: sha(2), updatedAt: at(2) }));
    await h.drain();
    await h.deliver(pullRequestPayload({ action: 'synchronize', number: 7, headSha: sha(3), updatedAt: at(3) }));
    await h.drain();
    const env = await h.db.environment.findFirstOrThrow({ where: { prNumber: 7 } });
    expect(env).toMatchObject({ status: 'READY', commitSha: sha(3) });
    const deployments = await h.db.deployment.findMany({ where: { environmentId: env.id }, orderBy: { id: 'asc' } });
    expect(deployments.map((d) => [d.commitSha, d.status])).toEqual([
      [sha(1), 'SUCCESS'],
      [sha(2), 'SUCCESS'],
      [sha(3), 'SUCCESS'],
    ]);
    const reqs = h.fakeGithub!.requests;
    for (const n of [2, 3]) {
      expect(reqs.filter((r) => r.path === `/repos/${REPO}/statuses/${sha(n)}`).at(-1)?.body?.state).toBe('success');
    }
    expect(reqs.filter((r) => r.method === 'POST' && r.path.endsWith('/issues/7/comments'))).toHaveLength(1);
    expect(reqs.filter((r) => r.method === 'PATCH' && /\/issues\/comments\/\d+$/.test(r.path)).length).toBeGreaterThan(3);
  });

  it('closed: DESTROYING → DESTROYED with destroyed_at, the comment says so', async () => {
    await h.deliver(pullRequestPayload({ action: 'closed', number: 7, headSha: sha(3), updatedAt: at(4), merged: true }));
    await h.drain();
    const env = await h.db.environment.findFirstOrThrow({ where: { prNumber: 7 } });
    expect(env.status).toBe('DESTROYED');
    expect(env.destroyedAt).toBeInstanceOf(Date);
    const lastEdit = h.fakeGithub!.requests.filter((r) => r.method === 'PATCH').at(-1);
    expect(String(lastEdit?.body?.body)).toMatch(/Removed/);
  });

  it('reopened: the same namespace comes back with a new deployment; closed again: destroyed again', async () => {
    const before = await h.db.environment.findFirstOrThrow({ where: { prNumber: 7 } });
    await h.deliver(pullRequestPayload({ action: 'reopened', number: 7, headSha: sha(3), updatedAt: at(5) }));
    await h.drain();
    const reopened = await h.db.environment.findFirstOrThrow({ where: { prNumber: 7 } });
    expect(reopened).toMatchObject({ id: before.id, namespace: before.namespace, status: 'READY', destroyedAt: null });
    expect(await h.db.deployment.count({ where: { environmentId: before.id } })).toBe(4);

    await h.deliver(pullRequestPayload({ action: 'closed', number: 7, headSha: sha(3), updatedAt: at(6) }));
    await h.drain();
    expect((await h.db.environment.findFirstOrThrow({ where: { prNumber: 7 } })).status).toBe('DESTROYED');
    expect(h.fakeGithub!.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/issues/7/comments'))).toHaveLength(1);
    expect(await h.failedJobs()).toHaveLength(0);
  });

  it('edited: title and branch kept current', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 8, headSha: sha(10), updatedAt: at(10) }));
    await h.deliver(pullRequestPayload({ action: 'edited', number: 8, headSha: sha(10), updatedAt: at(11), title: 'A better title' }));
    await h.drain();
    const env = await h.db.environment.findFirstOrThrow({ where: { prNumber: 8 } });
    expect(env.prTitle).toBe('A better title');
    expect(await h.db.deployment.count({ where: { environmentId: env.id } })).toBe(1);
  });

  it('a delivery processed twice changes nothing the second time', async () => {
    const payload = pullRequestPayload({ action: 'synchronize', number: 8, headSha: sha(12), updatedAt: at(12) });
    const id = await h.deliver(payload);
    await h.drain();
    const before = await h.snapshot();
    const deployments = await h.db.deployment.count();
    // GitHub redelivers with the same id; BullMQ keeps the finished job, so remove it to force a second run.
    await (await h.queues.webhooks.getJob(id))?.remove();
    await h.deliver(payload, 'pull_request', id);
    await h.drain();
    expect(await h.snapshot()).toEqual(before);
    expect(await h.db.deployment.count()).toBe(deployments);
    expect(await h.db.processedDelivery.count({ where: { deliveryId: id } })).toBe(1);
  });

  it('a repository webhook without an installation is handled and reported, with no feedback sent', async () => {
    const before = h.fakeGithub!.requests.length;
    await h.deliver(pullRequestPayload({ action: 'opened', number: 9, headSha: sha(20), updatedAt: at(20), installationId: null }));
    await h.drain();
    const env = await h.db.environment.findFirstOrThrow({ where: { prNumber: 9 } });
    expect(env.status).toBe('READY');
    expect(env.installationId).toBe(0n);
    expect(h.logLines.some((l) => l.includes('not the GitHub App'))).toBe(true);
    expect(h.fakeGithub!.requests.slice(before).filter((r) => r.path.includes('/issues/9/'))).toHaveLength(0);
  });
});

describe('installations: destructive events are confirmed with GitHub', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  const status = async (repo: string) => (await h.db.environment.findFirstOrThrow({ where: { repositoryFullName: repo } })).status;
  const removed = (installation: number, repos: string[]) => ({
    action: 'removed',
    installation: { id: installation, account: { login: 'acme' } },
    repositories_removed: repos.map((full, i) => ({ id: i + 1, full_name: full, name: full.split('/')[1] })),
    repositories_added: [],
    repository_selection: 'selected',
    sender: { id: 1, login: 'acme' },
  });
  const installationEvent = (action: string, id: number) => ({ action, installation: { id, account: { login: 'acme' } }, sender: { id: 1, login: 'acme' } });

  it('destroys the previews of repositories GitHub no longer lists, and keeps those it still does', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 1, repository: 'acme/one', headSha: sha(1), updatedAt: at(1), installationId: 55 }));
    await h.deliver(pullRequestPayload({ action: 'opened', number: 2, repository: 'acme/two', headSha: sha(2), updatedAt: at(1), installationId: 55 }));
    await h.deliver(pullRequestPayload({ action: 'opened', number: 3, repository: 'other/three', headSha: sha(3), updatedAt: at(1), installationId: 66 }));
    await h.drain();
    h.fakeGithub!.setInstallationRepositories(55, ['acme/two']);
    // acme/one is really gone; acme/two is claimed removed but GitHub still lists it (a forged or replayed event).
    await h.deliver(removed(55, ['acme/one', 'acme/two']), 'installation_repositories');
    await h.drain();
    expect(await status('acme/one')).toBe('DESTROYED');
    expect(await status('acme/two')).toBe('READY');
    expect(h.logLines.some((l) => l.includes('not confirmed by GitHub for these repositories') && l.includes('acme/two'))).toBe(true);
    expect(h.fakeGithub!.requests.some((r) => r.path === '/installation/repositories' && r.authorization === 'token ghs_fake55')).toBe(true);
  });

  it('a replayed installation.deleted for an installation GitHub still reports leaves its previews running', async () => {
    await h.deliver(installationEvent('deleted', 55), 'installation');
    await h.deliver(installationEvent('suspend', 55), 'installation');
    await h.drain();
    expect(await status('acme/two')).toBe('READY');
    expect(h.logLines.filter((l) => l.includes('not confirmed by GitHub; nothing changed'))).toHaveLength(2);
    const asked = h.fakeGithub!.requests.filter((r) => r.path === '/app/installations/55');
    expect(asked).toHaveLength(2);
    expect(asked.every((r) => /^bearer /i.test(r.authorization ?? ''))).toBe(true);
  });

  it('destroys the previews of an installation GitHub confirms suspended or deleted, and no other', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 4, repository: 'third/four', headSha: sha(4), updatedAt: at(1), installationId: 77 }));
    await h.drain();
    h.fakeGithub!.setInstallation(77, 'suspended');
    await h.deliver(installationEvent('suspend', 77), 'installation');
    h.fakeGithub!.setInstallation(55, null);
    await h.deliver(installationEvent('deleted', 55), 'installation');
    await h.drain();
    expect(await status('third/four')).toBe('DESTROYED');
    expect(await status('acme/two')).toBe('DESTROYED');
    expect(await status('other/three')).toBe('READY');
  });
});

describe('installations without App credentials', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ github: false });
  });
  afterAll(() => h.close());

  it('cannot confirm a destructive event, so it changes nothing', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 1, repository: 'acme/one', headSha: sha(1), updatedAt: at(1), installationId: 55 }));
    await h.drain();
    await h.deliver({ action: 'deleted', installation: { id: 55, account: { login: 'acme' } }, sender: { id: 1, login: 'acme' } }, 'installation');
    await h.drain();
    expect((await h.db.environment.findFirstOrThrow({ where: { repositoryFullName: 'acme/one' } })).status).toBe('READY');
    expect(h.logLines.some((l) => l.includes('unknown (no App credentials)'))).toBe(true);
  });
});
