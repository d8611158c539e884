import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { createLogger } from '@ephemera/runtime';
import { pullRequestPayload, startFakeGithub, type FakeGithub } from '@ephemera/testkit';
import { OctokitChecks } from '../src/github/github-checks.js';
import { InstallationClients } from '../src/github/installation-clients.js';
import { at, sha, startHarness, type Harness } from './harness.js';

const FORK = 'stranger/Hello-World';
const REPO = 'Codertocat/Hello-World';

describe('pull requests from forks: trust is write permission, as GitHub reports it', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    // Unset people have `read` on the base repository (the fake's default).
    h.fakeGithub!.setPermission(REPO, 'maint', 'maintain');
    h.fakeGithub!.setPermission(REPO, 'writer', 'write');
    h.fakeGithub!.setPermission(REPO, 'triager', 'triage');
    h.fakeGithub!.setPermission(REPO, 'dependabot[bot]', 'write');
  });
  afterAll(() => h.close());

  const event = (v: Parameters<typeof pullRequestPayload>[0]) => pullRequestPayload({ fromFork: FORK, ...v });
  const lastComment = () => h.fakeGithub!.commentsOf(REPO, 40).at(-1)?.body ?? '';
  const short = (n: number) => sha(n).slice(0, 7);
  const env40 = () => h.db.environment.findFirst({ where: { prNumber: 40 } });

  it('an outside contributor (read access, whatever author_association says) waits: no environment, one comment saying who may approve', async () => {
    await h.deliver(event({ action: 'opened', number: 40, authorAssociation: 'MEMBER', sender: { login: 'stranger' }, headSha: sha(1), updatedAt: at(1) }));
    await h.drain();
    expect(await env40()).toBeNull();
    expect(h.fakeGithub!.commentsOf(REPO, 40)).toHaveLength(1);
    expect(lastComment()).toContain(
      `someone with write access to Codertocat/Hello-World approves the pull request in a review or adds the \`preview-approved\` label to deploy \`${short(1)}\`.`,
    );
    const asked = h.fakeGithub!.requests.filter((r) => r.path === `/repos/${REPO}/collaborators/stranger/permission`);
    expect(asked).toHaveLength(1);
    expect(asked[0]!.authorization).toBe('token ghs_fake1');
  });

  it('a label added by someone without write access, or by a bot, changes nothing and the comment says who may approve', async () => {
    for (const [n, sender] of [[2, { login: 'triager' }], [3, { login: 'dependabot[bot]', type: 'Bot' as const }]] as const) {
      await h.deliver(event({ action: 'labeled', number: 40, sender, headSha: sha(1), updatedAt: at(n), labels: ['preview-approved'], label: 'preview-approved' }));
      await h.drain();
      expect(await env40()).toBeNull();
      expect(lastComment()).toContain(`@${sender.login} added the \`preview-approved\` label, but only people with write access to Codertocat/Hello-World can approve a fork's preview (and bots cannot): nothing was deployed.`);
    }
    // A bot is never asked about: its type settles it.
    expect(h.fakeGithub!.requests.some((r) => r.path.includes('/collaborators/dependabot'))).toBe(false);
    expect(h.fakeGithub!.commentsOf(REPO, 40)).toHaveLength(1);
  });

  it('the approval label added by a maintainer deploys the current head, and the comment names the commit it approved', async () => {
    await h.deliver(event({ action: 'labeled', number: 40, sender: { login: 'maint' }, headSha: sha(1), updatedAt: at(4), labels: ['preview-approved'], label: 'preview-approved' }));
    await h.drain();
    expect(await env40()).toMatchObject({ status: 'READY', commitSha: sha(1) });
    expect(h.fakeGithub!.commentsOf(REPO, 40)).toHaveLength(1);
    expect(lastComment()).toContain(`**Approved:** \`${short(1)}\` by @maint (the \`preview-approved\` label)`);
    expect(await h.db.pullRequestState.findFirstOrThrow({ where: { prNumber: 40 } })).toMatchObject({ approvedSha: sha(1), approvedBy: 'maint' });
  });

  it("a push by the fork's owner is held; the running preview keeps the approved commit", async () => {
    await h.deliver(event({ action: 'synchronize', number: 40, sender: { login: 'stranger' }, before: sha(1), headSha: sha(2), updatedAt: at(5), labels: ['preview-approved'] }));
    await h.drain();
    const env = (await env40())!;
    expect(env).toMatchObject({ status: 'READY', commitSha: sha(1) });
    expect(await h.db.deployment.count({ where: { environmentId: env.id } })).toBe(1);
    expect(lastComment()).toContain(`approves the pull request in a review or removes and adds the \`preview-approved\` label again to deploy \`${short(2)}\`.`);
  });

  it("a push by someone with write access on top of the fork's held commit stays held: the fork's earlier commits still need approval", async () => {
    await h.deliver(event({ action: 'synchronize', number: 40, sender: { login: 'writer' }, before: sha(2), headSha: sha(3), updatedAt: at(6), labels: ['preview-approved'] }));
    await h.drain();
    expect(await env40()).toMatchObject({ status: 'READY', commitSha: sha(1) });
    expect(lastComment()).toContain(`@writer pushed \`${short(3)}\` on top of \`${short(2)}\`, which was never approved, so the fork's earlier commits still need approval: nothing was deployed.`);
  });

  it('removing the approval label destroys a preview it covered; adding it again by a maintainer approves the current head', async () => {
    await h.deliver(event({ action: 'synchronize', number: 40, sender: { login: 'stranger' }, before: sha(3), headSha: sha(4), updatedAt: at(7), labels: ['preview-approved'] }));
    await h.deliver(event({ action: 'unlabeled', number: 40, sender: { login: 'maint' }, headSha: sha(4), updatedAt: at(8), labels: [], label: 'preview-approved' }));
    await h.drain();
    expect((await env40())!.status).toBe('DESTROYED');
    expect(h.fakeGithub!.commentsOf(REPO, 40).at(-1)?.body).toMatch(/Removed/);
    const edits = h.fakeGithub!.requests.filter((r) => r.method === 'PATCH').map((r) => String(r.body?.body));
    expect(edits.some((b) => b.includes("The `preview-approved` label was removed, so this fork's preview is being removed."))).toBe(true);

    await h.deliver(event({ action: 'labeled', number: 40, sender: { login: 'maint' }, headSha: sha(4), updatedAt: at(9), labels: ['preview-approved'], label: 'preview-approved' }));
    await h.drain();
    expect(await env40()).toMatchObject({ status: 'READY', commitSha: sha(4) });
    expect(h.fakeGithub!.commentsOf(REPO, 40)).toHaveLength(1);
  });

  it('a push by someone with write access on top of the approved commit deploys', async () => {
    await h.deliver(event({ action: 'synchronize', number: 40, sender: { login: 'writer' }, before: sha(4), headSha: sha(5), updatedAt: at(10), labels: ['preview-approved'] }));
    await h.drain();
    expect(await env40()).toMatchObject({ status: 'READY', commitSha: sha(5) });
    expect(await h.db.pullRequestState.findFirstOrThrow({ where: { prNumber: 40 } })).toMatchObject({ trustedSha: sha(5), heldSha: null });
  });

  it("a pull request a maintainer opened from a fork deploys; the fork owner's push to it is held", async () => {
    await h.deliver(event({ action: 'opened', number: 41, sender: { login: 'writer' }, headSha: sha(41), updatedAt: at(1) }));
    await h.drain();
    expect(await h.db.environment.findFirst({ where: { prNumber: 41 } })).toMatchObject({ status: 'READY', commitSha: sha(41) });
    await h.deliver(event({ action: 'synchronize', number: 41, sender: { login: 'stranger' }, before: sha(41), headSha: sha(42), updatedAt: at(2) }));
    await h.drain();
    expect(await h.db.environment.findFirst({ where: { prNumber: 41 } })).toMatchObject({ status: 'READY', commitSha: sha(41) });
    expect(h.fakeGithub!.commentsOf(REPO, 41).at(-1)?.body).toContain(`\`${short(42)}\` waits for approval`);
  });

  it('a permission check GitHub refuses (404) is no trust; one that fails (5xx) is asked again, never taken as trust', async () => {
    h.fakeGithub!.setPermission(REPO, 'ghost', null);
    await h.deliver(event({ action: 'opened', number: 43, sender: { login: 'ghost' }, headSha: sha(43), updatedAt: at(1) }));
    h.fakeGithub!.failNext(/\/collaborators\/writer\/permission$/, 502, 1);
    await h.deliver(event({ action: 'opened', number: 44, sender: { login: 'writer' }, headSha: sha(44), updatedAt: at(1) }));
    await h.drain();
    expect(await h.db.environment.findFirst({ where: { prNumber: 43 } })).toBeNull();
    expect(await h.db.environment.findFirst({ where: { prNumber: 44 } })).toMatchObject({ status: 'READY' });
    expect(h.fakeGithub!.requests.filter((r) => r.path.endsWith('/collaborators/writer/permission')).length).toBeGreaterThanOrEqual(2);
  });

  it('a draft never gets a comment', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 45, draft: true, headSha: sha(45), updatedAt: at(1) }));
    await h.drain();
    expect(await h.db.environment.findFirst({ where: { prNumber: 45 } })).toBeNull();
    expect(h.fakeGithub!.requests.filter((r) => r.path.includes('/issues/45/'))).toEqual([]);
  });
});

describe('permission answers are cached for PERMISSION_CACHE_SECONDS', () => {
  let gh: FakeGithub;
  beforeAll(async () => {
    gh = await startFakeGithub();
  });
  afterAll(() => gh.close());

  it('asks GitHub once per person and repository within the cache time', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const clients = new InstallationClients({ appId: 42, privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString() }, gh.url, 5_000);
    const checks = new OctokitChecks(clients, 60, createLogger({ service: 'test', level: 'silent' }));
    gh.setPermission('acme/web', 'maint', 'maintain');
    expect(await checks.canWrite(1, 'acme/web', 'maint')).toBe(true);
    gh.setPermission('acme/web', 'maint', 'read');
    expect(await checks.canWrite(1, 'acme/web', 'MAINT')).toBe(true);
    expect(gh.requests.filter((r) => r.path.endsWith('/permission'))).toHaveLength(1);
    expect(await checks.canWrite(1, 'acme/web', 'someone')).toBe(false);
    const fresh = new OctokitChecks(clients, 0, createLogger({ service: 'test', level: 'silent' }));
    expect(await fresh.canWrite(1, 'acme/web', 'maint')).toBe(false);
  });
});

describe('drafts and the preview label', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ github: false, settings: { previewLabel: 'preview' } });
  });
  afterAll(() => h.close());

  it('with PREVIEW_LABEL set, only labelled PRs get a preview; removing the label destroys it', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 50, headSha: sha(1), updatedAt: at(1) }));
    await h.drain();
    expect(await h.db.environment.count({ where: { prNumber: 50 } })).toBe(0);

    await h.deliver(pullRequestPayload({ action: 'labeled', number: 50, headSha: sha(1), updatedAt: at(2), labels: ['preview'], label: 'preview' }));
    await h.drain();
    expect((await h.db.environment.findFirstOrThrow({ where: { prNumber: 50 } })).status).toBe('READY');

    await h.deliver(pullRequestPayload({ action: 'unlabeled', number: 50, headSha: sha(1), updatedAt: at(3), labels: [], label: 'preview' }));
    await h.drain();
    expect((await h.db.environment.findFirstOrThrow({ where: { prNumber: 50 } })).status).toBe('DESTROYED');
  });

  it('drafts get no preview until ready for review; converting back to draft destroys it', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 51, draft: true, labels: ['preview'], headSha: sha(1), updatedAt: at(1) }));
    await h.drain();
    expect(await h.db.environment.count({ where: { prNumber: 51 } })).toBe(0);
    await h.deliver(pullRequestPayload({ action: 'ready_for_review', number: 51, labels: ['preview'], headSha: sha(1), updatedAt: at(2) }));
    await h.drain();
    expect((await h.db.environment.findFirstOrThrow({ where: { prNumber: 51 } })).status).toBe('READY');
    await h.deliver(pullRequestPayload({ action: 'converted_to_draft', number: 51, draft: true, labels: ['preview'], headSha: sha(1), updatedAt: at(3) }));
    await h.drain();
    expect((await h.db.environment.findFirstOrThrow({ where: { prNumber: 51 } })).status).toBe('DESTROYED');
  });
});
