import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pullRequestPayload, pullRequestReviewPayload } from '@ephemera/testkit';
import type { ForkApproval } from '../src/pull-request-reconciler.js';
import { at, startHarness } from './harness.js';

const FORK = 'stranger/Hello-World';
const REPO = 'Codertocat/Hello-World';

/** A commit whose short form (`a100000`) names it in a comment. */
const c = (tag: string) => tag.padEnd(40, '0');
const short = (tag: string) => `\`${c(tag).slice(0, 7)}\``;

type PullRequestVariant = Parameters<typeof pullRequestPayload>[0];
type ReviewVariant = Parameters<typeof pullRequestReviewPayload>[0];

/** A harness whose fake GitHub knows maint (maintain), writer (write) and a bot with write; everyone else reads. */
async function forkHarness(forkApproval?: ForkApproval) {
  const h = await startHarness(forkApproval ? { settings: { forkApproval } } : {});
  h.fakeGithub!.setPermission(REPO, 'maint', 'maintain');
  h.fakeGithub!.setPermission(REPO, 'writer', 'write');
  h.fakeGithub!.setPermission(REPO, 'renovate[bot]', 'write');
  const io = {
    h,
    /** A pull_request event of a PR from the fork. */
    event: async (v: PullRequestVariant) => {
      await h.deliver(pullRequestPayload({ fromFork: FORK, ...v }));
      await h.drain();
    },
    /** A pull_request_review event of a PR from the fork. */
    review: async (v: ReviewVariant) => {
      await h.deliver(pullRequestReviewPayload({ fromFork: FORK, ...v }), 'pull_request_review');
      await h.drain();
    },
    env: (pr: number) => h.db.environment.findFirst({ where: { prNumber: pr } }),
    state: (pr: number) => h.db.pullRequestState.findFirstOrThrow({ where: { prNumber: pr } }),
    deployments: async (pr: number) =>
      (await h.db.deployment.findMany({ where: { environment: { prNumber: pr } }, orderBy: { id: 'asc' } })).map((d) => d.commitSha),
    comment: (pr: number) => h.fakeGithub!.commentsOf(REPO, pr).at(-1)?.body ?? '',
    permissionAsks: (login: string) => h.fakeGithub!.requests.filter((r) => r.path === `/repos/${REPO}/collaborators/${login}/permission`).length,
  };
  return io;
}

describe('fork approval (FORK_APPROVAL=both, the default): a push by a maintainer carries only what was vouched for', () => {
  let t: Awaited<ReturnType<typeof forkHarness>>;
  beforeAll(async () => {
    t = await forkHarness();
  });
  afterAll(() => t.h.close());

  it('"Update branch" by a maintainer over a held fork commit stays held, and the comment says the earlier commits need approval', async () => {
    await t.event({ action: 'opened', number: 60, sender: { login: 'stranger' }, headSha: c('a1'), updatedAt: at(1) });
    expect(await t.env(60)).toBeNull();
    // GitHub's "Update branch": a merge of the base onto the fork's branch, pushed by the maintainer who pressed it.
    await t.event({ action: 'synchronize', number: 60, sender: { login: 'maint' }, before: c('a1'), headSha: c('a2'), updatedAt: at(2) });
    expect(await t.env(60)).toBeNull();
    expect(await t.state(60)).toMatchObject({ trustedSha: null, heldSha: c('a2') });
    expect(t.comment(60)).toContain(
      `@maint pushed ${short('a2')} on top of ${short('a1')}, which was never approved, so the fork's earlier commits still need approval: nothing was deployed.`,
    );
    expect(t.comment(60)).toContain(`approves the pull request in a review or adds the \`preview-approved\` label to deploy ${short('a2')}`);
    // The maintainer was asked about: write access alone does not vouch for what the push is built on.
    expect(t.permissionAsks('maint')).toBeGreaterThanOrEqual(1);
  });

  it('once the head is approved, a maintainer\'s push on top of it deploys; on top of a new fork commit it is held again', async () => {
    await t.review({ action: 'submitted', number: 60, sender: { login: 'maint' }, headSha: c('a2'), commitId: c('a2'), updatedAt: at(3) });
    expect(await t.env(60)).toMatchObject({ status: 'READY', commitSha: c('a2') });
    await t.event({ action: 'synchronize', number: 60, sender: { login: 'maint' }, before: c('a2'), headSha: c('a3'), updatedAt: at(4) });
    expect(await t.env(60)).toMatchObject({ status: 'READY', commitSha: c('a3') });
    expect(await t.state(60)).toMatchObject({ trustedSha: c('a3') });

    await t.event({ action: 'synchronize', number: 60, sender: { login: 'stranger' }, before: c('a3'), headSha: c('a4'), updatedAt: at(5) });
    await t.event({ action: 'synchronize', number: 60, sender: { login: 'writer' }, before: c('a4'), headSha: c('a5'), updatedAt: at(6) });
    // The preview keeps the last commit vouched for; neither the fork's commit nor the push on top of it deployed.
    expect(await t.env(60)).toMatchObject({ status: 'READY', commitSha: c('a3') });
    expect(await t.deployments(60)).toEqual([c('a2'), c('a3')]);
    expect(t.comment(60)).toContain(`@writer pushed ${short('a5')} on top of ${short('a4')}, which was never approved, so the fork's earlier commits still need approval`);
    expect(t.comment(60)).toContain(`⏸️ ${short('a5')} waits for approval.`);
  });

  it('a maintainer\'s push on top of a commit the label approved deploys; the comment names the commit the label approved', async () => {
    await t.event({ action: 'opened', number: 61, sender: { login: 'stranger' }, headSha: c('b1'), updatedAt: at(1) });
    await t.event({ action: 'labeled', number: 61, sender: { login: 'maint' }, headSha: c('b1'), updatedAt: at(2), labels: ['preview-approved'], label: 'preview-approved' });
    expect(await t.env(61)).toMatchObject({ status: 'READY', commitSha: c('b1') });
    expect(await t.state(61)).toMatchObject({ approvedSha: c('b1'), approvedBy: 'maint' });
    expect(t.comment(61)).toContain(`**Approved:** ${short('b1')} by @maint (the \`preview-approved\` label)`);
    await t.event({ action: 'synchronize', number: 61, sender: { login: 'maint' }, before: c('b1'), headSha: c('b2'), updatedAt: at(3), labels: ['preview-approved'] });
    expect(await t.env(61)).toMatchObject({ status: 'READY', commitSha: c('b2') });
  });
});

describe('fork approval by pull request review (FORK_APPROVAL=both)', () => {
  let t: Awaited<ReturnType<typeof forkHarness>>;
  beforeAll(async () => {
    t = await forkHarness();
  });
  afterAll(() => t.h.close());

  it('a review approves exactly review.commit_id: one pushed after the review deploys nothing, the reviewed head deploys alone', async () => {
    await t.event({ action: 'opened', number: 62, sender: { login: 'stranger' }, headSha: c('c1'), updatedAt: at(1) });
    await t.event({ action: 'synchronize', number: 62, sender: { login: 'stranger' }, before: c('c1'), headSha: c('c2'), updatedAt: at(2) });
    // The maintainer reviewed c1; the fork pushed c2 before the review's event was sent.
    await t.review({ action: 'submitted', number: 62, sender: { login: 'maint' }, headSha: c('c2'), commitId: c('c1'), updatedAt: at(3) });
    expect(await t.env(62)).toBeNull();
    expect(t.comment(62)).toContain(
      `@maint approved ${short('c1')} in a review, but the head is now ${short('c2')}; a review approves only the commit it was made on, so nothing was deployed.`,
    );

    await t.review({ action: 'submitted', number: 62, reviewId: 702, sender: { login: 'maint' }, headSha: c('c2'), commitId: c('c2'), updatedAt: at(4) });
    expect(await t.env(62)).toMatchObject({ status: 'READY', commitSha: c('c2') });
    expect(await t.state(62)).toMatchObject({ reviewApprovedSha: c('c2'), reviewApprovedBy: 'maint', reviewApprovalId: 702n, approvedSha: null });
    expect(t.comment(62)).toContain(`**Approved:** ${short('c2')} by @maint (a review of that commit)`);

    // A push after the approval is held: the preview keeps the reviewed commit.
    await t.event({ action: 'synchronize', number: 62, sender: { login: 'stranger' }, before: c('c2'), headSha: c('c3'), updatedAt: at(5) });
    expect(await t.env(62)).toMatchObject({ status: 'READY', commitSha: c('c2') });
    expect(await t.deployments(62)).toEqual([c('c2')]);
    expect(t.comment(62)).toContain(`⏸️ ${short('c3')} waits for approval.`);
    expect(t.comment(62)).toContain(`**Approved:** ${short('c2')} by @maint (a review of that commit)`);
  });

  it('a review by a read-only user, or by a bot, deploys nothing and the comment says why; a bot is never asked about', async () => {
    await t.event({ action: 'opened', number: 63, sender: { login: 'stranger' }, headSha: c('d1'), updatedAt: at(1) });
    await t.review({ action: 'submitted', number: 63, sender: { login: 'reader' }, headSha: c('d1'), updatedAt: at(2) });
    expect(await t.env(63)).toBeNull();
    expect(t.comment(63)).toContain(
      `@reader approved ${short('d1')} in a review, but only people with write access to ${REPO} can approve a fork's preview (and bots cannot): nothing was deployed.`,
    );
    expect(t.permissionAsks('reader')).toBe(1);

    await t.review({ action: 'submitted', number: 63, sender: { login: 'renovate[bot]', type: 'Bot' }, headSha: c('d1'), updatedAt: at(3) });
    expect(await t.env(63)).toBeNull();
    expect(t.comment(63)).toContain(`@renovate[bot] approved ${short('d1')} in a review, but only people with write access to ${REPO} can approve a fork's preview (and bots cannot): nothing was deployed.`);
    expect(t.h.fakeGithub!.requests.some((r) => r.path.includes('/collaborators/renovate'))).toBe(false);
    expect(t.h.fakeGithub!.commentsOf(REPO, 63)).toHaveLength(1);
  });

  it('a review that does not approve (comments, changes requested) approves nothing and asks nobody', async () => {
    const asked = t.permissionAsks('maint');
    for (const [n, reviewState] of [[4, 'commented'], [5, 'changes_requested']] as const) {
      await t.review({ action: 'submitted', number: 63, reviewState, sender: { login: 'maint' }, headSha: c('d1'), updatedAt: at(n) });
      expect(await t.env(63)).toBeNull();
    }
    expect(t.permissionAsks('maint')).toBe(asked);
    expect(t.comment(63)).toContain(`This pull request comes from a fork, so its preview waits for approval`);
  });

  it('a review of an older commit deploys nothing newer: the preview keeps the approved commit, and the comment says why', async () => {
    await t.review({ action: 'submitted', number: 63, reviewId: 731, sender: { login: 'maint' }, headSha: c('d1'), updatedAt: at(6) });
    expect(await t.env(63)).toMatchObject({ status: 'READY', commitSha: c('d1') });
    await t.event({ action: 'synchronize', number: 63, sender: { login: 'stranger' }, before: c('d1'), headSha: c('d2'), updatedAt: at(7) });
    await t.review({ action: 'submitted', number: 63, reviewId: 732, sender: { login: 'writer' }, headSha: c('d2'), commitId: c('d1'), updatedAt: at(8) });
    expect(await t.env(63)).toMatchObject({ status: 'READY', commitSha: c('d1') });
    expect(await t.deployments(63)).toEqual([c('d1')]);
    expect(t.comment(63)).toContain(`@writer approved ${short('d1')} in a review, but the head is now ${short('d2')}; a review approves only the commit it was made on, so nothing was deployed.`);
    // The approval in force is still the one of d1's first review (the second one changed nothing).
    expect(await t.state(63)).toMatchObject({ reviewApprovedSha: c('d1'), reviewApprovalId: 731n });
  });

  it('dismissing the approving review destroys the preview, as removing the label does; dismissing another review changes nothing', async () => {
    await t.event({ action: 'opened', number: 64, sender: { login: 'stranger' }, headSha: c('e1'), updatedAt: at(1) });
    await t.review({ action: 'submitted', number: 64, reviewId: 901, sender: { login: 'maint' }, headSha: c('e1'), updatedAt: at(2) });
    expect(await t.env(64)).toMatchObject({ status: 'READY', commitSha: c('e1') });

    await t.review({ action: 'dismissed', number: 64, reviewId: 555, sender: { login: 'maint' }, reviewer: { login: 'writer' }, headSha: c('e1'), updatedAt: at(3) });
    expect(await t.env(64)).toMatchObject({ status: 'READY', commitSha: c('e1') });

    await t.review({ action: 'dismissed', number: 64, reviewId: 901, sender: { login: 'maint' }, headSha: c('e1'), updatedAt: at(4) });
    expect((await t.env(64))!.status).toBe('DESTROYED');
    expect(await t.state(64)).toMatchObject({ reviewApprovedSha: null, reviewApprovedBy: null, reviewApprovalId: null });
    const edits = t.h.fakeGithub!.requests.filter((r) => r.method === 'PATCH').map((r) => String(r.body?.body));
    expect(edits.some((b) => b.includes(`@maint dismissed the review that approved ${short('e1')}, so this fork's preview is being removed.`))).toBe(true);

    // A new approval brings it back.
    await t.review({ action: 'submitted', number: 64, reviewId: 902, sender: { login: 'writer' }, headSha: c('e1'), updatedAt: at(5) });
    expect(await t.env(64)).toMatchObject({ status: 'READY', commitSha: c('e1') });
  });

  it('a dismissal while the fork\'s newer commit is held destroys the preview of the commit it had approved', async () => {
    await t.event({ action: 'synchronize', number: 64, sender: { login: 'stranger' }, before: c('e1'), headSha: c('e2'), updatedAt: at(6) });
    expect(await t.env(64)).toMatchObject({ status: 'READY', commitSha: c('e1') });
    await t.review({ action: 'dismissed', number: 64, reviewId: 902, sender: { login: 'maint' }, headSha: c('e2'), updatedAt: at(7) });
    expect((await t.env(64))!.status).toBe('DESTROYED');
    expect(await t.deployments(64)).toEqual([c('e1'), c('e1')]);
  });

  it('a review older than what was applied is weighed against GitHub\'s pull request as it is now, not dropped', async () => {
    await t.event({ action: 'opened', number: 65, sender: { login: 'stranger' }, headSha: c('f1'), updatedAt: at(1) });
    await t.event({ action: 'edited', number: 65, sender: { login: 'stranger' }, headSha: c('f1'), updatedAt: at(5), title: 'A better title' });
    t.h.fakeGithub!.setPullRequest(REPO, pullRequestPayload({ action: 'edited', number: 65, fromFork: FORK, headSha: c('f1'), updatedAt: at(5), title: 'A better title' }).pull_request as Record<string, unknown>);
    await t.review({ action: 'submitted', number: 65, sender: { login: 'maint' }, headSha: c('f1'), updatedAt: at(3) });
    expect(await t.env(65)).toMatchObject({ status: 'READY', commitSha: c('f1'), prTitle: 'A better title' });
    expect(t.h.fakeGithub!.requests.some((r) => r.method === 'GET' && r.path === `/repos/${REPO}/pulls/65`)).toBe(true);

    // …and an older review of a commit GitHub's head has moved on from deploys nothing.
    await t.event({ action: 'synchronize', number: 65, sender: { login: 'stranger' }, before: c('f1'), headSha: c('f2'), updatedAt: at(7) });
    t.h.fakeGithub!.setPullRequest(REPO, pullRequestPayload({ action: 'synchronize', number: 65, fromFork: FORK, headSha: c('f2'), updatedAt: at(7) }).pull_request as Record<string, unknown>);
    await t.review({ action: 'submitted', number: 65, sender: { login: 'writer' }, headSha: c('f1'), updatedAt: at(6) });
    expect(await t.env(65)).toMatchObject({ status: 'READY', commitSha: c('f1') });
    expect(t.comment(65)).toContain(`@writer approved ${short('f1')} in a review, but the head is now ${short('f2')}`);
  });

  it('reviews of a pull request from the repository itself change nothing and ask nobody', async () => {
    await t.h.deliver(pullRequestPayload({ action: 'opened', number: 66, headSha: c('99'), updatedAt: at(1) }));
    await t.h.drain();
    await t.h.deliver(pullRequestReviewPayload({ action: 'submitted', number: 66, sender: { login: 'someone' }, headSha: c('99'), updatedAt: at(2) }), 'pull_request_review');
    await t.h.deliver(pullRequestReviewPayload({ action: 'dismissed', number: 66, sender: { login: 'maint' }, headSha: c('99'), updatedAt: at(3) }), 'pull_request_review');
    await t.h.drain();
    expect(await t.env(66)).toMatchObject({ status: 'READY', commitSha: c('99') });
    expect(t.permissionAsks('someone')).toBe(0);
    expect(await t.h.failedJobs()).toEqual([]);
  });
});

describe('FORK_APPROVAL=label: reviews do not approve', () => {
  let t: Awaited<ReturnType<typeof forkHarness>>;
  beforeAll(async () => {
    t = await forkHarness('label');
  });
  afterAll(() => t.h.close());

  it('the comment names the label; an approving review deploys nothing and says the label approves; its dismissal changes nothing', async () => {
    await t.event({ action: 'opened', number: 70, sender: { login: 'stranger' }, headSha: c('70'), updatedAt: at(1) });
    expect(t.comment(70)).toContain(`someone with write access to ${REPO} adds the \`preview-approved\` label to deploy ${short('70')}.`);
    expect(t.comment(70)).not.toContain('in a review');

    await t.review({ action: 'submitted', number: 70, reviewId: 170, sender: { login: 'maint' }, headSha: c('70'), updatedAt: at(2) });
    expect(await t.env(70)).toBeNull();
    expect(t.comment(70)).toContain(
      "@maint approved the pull request in a review, but here a fork's preview is approved by the `preview-approved` label (FORK_APPROVAL=label), not by reviews: nothing was deployed.",
    );
    expect(t.permissionAsks('maint')).toBe(0);
    expect(await t.state(70)).toMatchObject({ reviewApprovedSha: null });

    await t.event({ action: 'labeled', number: 70, sender: { login: 'maint' }, headSha: c('70'), updatedAt: at(3), labels: ['preview-approved'], label: 'preview-approved' });
    expect(await t.env(70)).toMatchObject({ status: 'READY', commitSha: c('70') });
    expect(t.comment(70)).toContain(`**Approved:** ${short('70')} by @maint (the \`preview-approved\` label)`);

    await t.review({ action: 'dismissed', number: 70, reviewId: 170, sender: { login: 'maint' }, headSha: c('70'), updatedAt: at(4), labels: ['preview-approved'] });
    expect(await t.env(70)).toMatchObject({ status: 'READY', commitSha: c('70') });
  });
});

describe('FORK_APPROVAL=review: the label does not approve', () => {
  let t: Awaited<ReturnType<typeof forkHarness>>;
  beforeAll(async () => {
    t = await forkHarness('review');
  });
  afterAll(() => t.h.close());

  it('the comment names reviews; the label deploys nothing and says a review approves; removing it changes nothing', async () => {
    await t.event({ action: 'opened', number: 80, sender: { login: 'stranger' }, headSha: c('80'), updatedAt: at(1) });
    expect(t.comment(80)).toContain(`someone with write access to ${REPO} approves the pull request in a review to deploy ${short('80')}.`);
    expect(t.comment(80)).not.toContain('`preview-approved`');

    await t.event({ action: 'labeled', number: 80, sender: { login: 'maint' }, headSha: c('80'), updatedAt: at(2), labels: ['preview-approved'], label: 'preview-approved' });
    expect(await t.env(80)).toBeNull();
    expect(t.comment(80)).toContain(
      "@maint added the `preview-approved` label, but here a fork's preview is approved by a review (FORK_APPROVAL=review), not by the label: nothing was deployed.",
    );
    expect(t.permissionAsks('maint')).toBe(0);
    expect(await t.state(80)).toMatchObject({ approvedSha: null });

    await t.review({ action: 'submitted', number: 80, sender: { login: 'maint' }, headSha: c('80'), updatedAt: at(3), labels: ['preview-approved'] });
    expect(await t.env(80)).toMatchObject({ status: 'READY', commitSha: c('80') });
    expect(t.comment(80)).toContain(`**Approved:** ${short('80')} by @maint (a review of that commit)`);
    expect(t.comment(80)).not.toMatch(/label\)/);

    await t.event({ action: 'unlabeled', number: 80, sender: { login: 'maint' }, headSha: c('80'), updatedAt: at(4), labels: [], label: 'preview-approved' });
    expect(await t.env(80)).toMatchObject({ status: 'READY', commitSha: c('80') });

    // A maintainer's push on top of the reviewed commit is vouched for.
    await t.event({ action: 'synchronize', number: 80, sender: { login: 'writer' }, before: c('80'), headSha: c('81'), updatedAt: at(5) });
    expect(await t.env(80)).toMatchObject({ status: 'READY', commitSha: c('81') });
  });
});

describe('a review older than what was applied, without App credentials', () => {
  let h: Awaited<ReturnType<typeof startHarness>>;
  beforeAll(async () => {
    h = await startHarness({ github: false });
  });
  afterAll(() => h.close());

  it('changes nothing: GitHub cannot be asked, and an older snapshot is never applied over a newer one', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 90, fromFork: FORK, headSha: c('90'), updatedAt: at(1) }));
    await h.deliver(pullRequestPayload({ action: 'edited', number: 90, fromFork: FORK, headSha: c('90'), updatedAt: at(5), title: 'Newer' }));
    await h.drain();
    const id = await h.deliver(pullRequestReviewPayload({ action: 'submitted', number: 90, fromFork: FORK, sender: { login: 'maint' }, headSha: c('90'), updatedAt: at(3), title: 'Older' }), 'pull_request_review');
    await h.drain();
    expect(await h.db.environment.findFirst({ where: { prNumber: 90 } })).toBeNull();
    expect(await h.db.processedDelivery.findUnique({ where: { deliveryId: id } })).not.toBeNull();
    expect(await h.db.pullRequestState.findFirstOrThrow({ where: { prNumber: 90 } })).toMatchObject({ lastEventAt: new Date(at(5)), reviewApprovedSha: null });
    expect(await h.failedJobs()).toEqual([]);
    expect(h.logLines.some((l) => l.includes('a review older than what was applied and GitHub cannot be asked'))).toBe(true);
  });
});
