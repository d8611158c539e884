import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pullRequestPayload } from '@ephemera/testkit';
import { at, sha, startHarness, type Harness } from './harness.js';

const FORK = 'stranger/Hello-World';

describe('pull requests from forks', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  const comments = (pr: number) =>
    h.fakeGithub!.requests.filter((r) => r.path.endsWith(`/issues/${pr}/comments`) || (r.method === 'PATCH' && r.path.includes('/issues/comments/')));

  it('a contributor outside the org waits: no environment, one comment asking a maintainer to approve', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 40, fromFork: FORK, authorAssociation: 'CONTRIBUTOR', headSha: sha(1), updatedAt: at(1) }));
    await h.drain();
    expect(await h.db.environment.count({ where: { prNumber: 40 } })).toBe(0);
    const posted = h.fakeGithub!.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/issues/40/comments'));
    expect(posted).toHaveLength(1);
    expect(String(posted[0]!.body?.body)).toMatch(/add the `preview-approved` label/);
  });

  it('the approval label deploys the approved commit', async () => {
    await h.deliver(pullRequestPayload({
      action: 'labeled', number: 40, fromFork: FORK, authorAssociation: 'CONTRIBUTOR', headSha: sha(1), updatedAt: at(2),
      labels: ['preview-approved'], label: 'preview-approved',
    }));
    await h.drain();
    const env = await h.db.environment.findFirstOrThrow({ where: { prNumber: 40 } });
    expect(env).toMatchObject({ status: 'READY', commitSha: sha(1) });
    expect(comments(40).filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('a later push is held; the running preview keeps the approved commit', async () => {
    await h.deliver(pullRequestPayload({
      action: 'synchronize', number: 40, fromFork: FORK, authorAssociation: 'CONTRIBUTOR', headSha: sha(2), updatedAt: at(3),
      labels: ['preview-approved'],
    }));
    await h.drain();
    const env = await h.db.environment.findFirstOrThrow({ where: { prNumber: 40 } });
    expect(env).toMatchObject({ status: 'READY', commitSha: sha(1) });
    expect(await h.db.deployment.count({ where: { environmentId: env.id } })).toBe(1);
    const last = comments(40).at(-1);
    expect(String(last?.body?.body)).toMatch(/removes and adds the `preview-approved` label again/);
  });

  it('removing and adding the label again deploys the new commit', async () => {
    await h.deliver(pullRequestPayload({
      action: 'unlabeled', number: 40, fromFork: FORK, authorAssociation: 'CONTRIBUTOR', headSha: sha(2), updatedAt: at(4), labels: [], label: 'preview-approved',
    }));
    await h.deliver(pullRequestPayload({
      action: 'labeled', number: 40, fromFork: FORK, authorAssociation: 'CONTRIBUTOR', headSha: sha(2), updatedAt: at(5),
      labels: ['preview-approved'], label: 'preview-approved',
    }));
    await h.drain();
    const env = await h.db.environment.findFirstOrThrow({ where: { prNumber: 40 } });
    expect(env).toMatchObject({ status: 'READY', commitSha: sha(2) });
    expect(comments(40).filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('members, owners and collaborators of the base repository are trusted from forks', async () => {
    for (const [n, association] of [[41, 'MEMBER'], [42, 'OWNER'], [43, 'COLLABORATOR']] as const) {
      await h.deliver(pullRequestPayload({ action: 'opened', number: n, fromFork: FORK, authorAssociation: association, headSha: sha(n), updatedAt: at(1) }));
    }
    await h.drain();
    expect(await h.db.environment.count({ where: { prNumber: { in: [41, 42, 43] }, status: 'READY' } })).toBe(3);
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
