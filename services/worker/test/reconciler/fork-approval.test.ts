import { describe, expect, it } from '@jest/globals';
import type { PullRequestState } from '@ephemera/db';
import type { PreviewSettings } from '../../src/pull-request-reconciler.js';
import { approvalWays, decideApproval, isFromFork, reviewMatters, type ApprovalChange, type ApprovalInput } from '../../src/reconciler/fork-approval.js';
import { BEFORE, HEAD, OTHER, prJob, prState, reviewJob, settings, type JobOptions } from './fixtures.js';

// The approval of a fork's head, decided from the event and the vouchers kept, with no database.

const LABEL = settings.approveLabel;
const decide = (over: Partial<ApprovalInput> & { jobOptions?: JobOptions } = {}) =>
  decideApproval({ job: prJob({ fork: true, ...over.jobOptions }), state: null, settings, approval: undefined, senderTrusted: true, ...over });
const granted = (commitSha: string | null = HEAD): ApprovalChange => ({ by: 'review', change: 'granted', reviewId: 31, commitSha, reviewer: 'reviewer' });
const vouchersOf = (state: PullRequestState) => ({
  approvedSha: state.approvedSha,
  approvedBy: state.approvedBy,
  reviewApprovedSha: state.reviewApprovedSha,
  reviewApprovedBy: state.reviewApprovedBy,
  reviewApprovalId: state.reviewApprovalId,
  trustedSha: state.trustedSha,
});

describe('approvalWays and isFromFork', () => {
  it('counts the label, the review or both as FORK_APPROVAL says (both by default)', () => {
    expect(approvalWays({})).toEqual({ label: true, review: true });
    expect(approvalWays({ forkApproval: 'both' })).toEqual({ label: true, review: true });
    expect(approvalWays({ forkApproval: 'label' })).toEqual({ label: true, review: false });
    expect(approvalWays({ forkApproval: 'review' })).toEqual({ label: false, review: true });
  });

  it('takes a head in another repository, or in a deleted fork, for a fork (names compared without case)', () => {
    const pr = prJob().pullRequest;
    expect(isFromFork(pr)).toBe(false);
    expect(isFromFork({ ...pr, headRepoFullName: 'ACME/App' })).toBe(false);
    expect(isFromFork({ ...pr, headRepoFullName: 'stranger/app' })).toBe(true);
    expect(isFromFork({ ...pr, headRepoFullName: null })).toBe(true);
  });
});

describe(decideApproval.name, () => {
  it('approves a pull request from the repository itself whoever sends it, and keeps its vouchers', () => {
    const state = prState({ approvedSha: OTHER, approvedBy: 'x', trustedSha: BEFORE, reviewApprovedSha: OTHER, reviewApprovedBy: 'y', reviewApprovalId: 5n });
    const d = decideApproval({ job: prJob({ action: 'synchronize' }), state, settings, approval: undefined, senderTrusted: false });
    expect(d).toMatchObject({ fromFork: false, approved: true, refusal: null, withdrawn: null, granted: false });
    expect(d.vouchers).toEqual(vouchersOf(state));
  });

  it('trusts the commit a trusted person opened a fork pull request with, and holds an untrusted one', () => {
    expect(decide()).toMatchObject({ fromFork: true, approved: true, refusal: null, vouchers: { trustedSha: HEAD } });
    expect(decide({ senderTrusted: false })).toMatchObject({ approved: false, refusal: null, vouchers: { trustedSha: null } });
    expect(decide({ jobOptions: { action: 'reopened' } })).toMatchObject({ approved: false, refusal: null, vouchers: { trustedSha: null } });
  });

  it('trusts a trusted push onto a vouched commit, and refuses one onto unapproved commits', () => {
    const onto = (state: PullRequestState, before: string | null = BEFORE) => decide({ jobOptions: { action: 'synchronize', before }, state });
    expect(onto(prState({ trustedSha: BEFORE }))).toMatchObject({ approved: true, refusal: null, vouchers: { trustedSha: HEAD } });
    expect(onto(prState({ reviewApprovedSha: BEFORE }))).toMatchObject({ approved: true, vouchers: { trustedSha: HEAD } });
    expect(onto(prState({ approvedSha: BEFORE }))).toMatchObject({ approved: false });
    const refused = onto(prState({ trustedSha: OTHER }));
    expect(refused).toMatchObject({ approved: false, vouchers: { trustedSha: OTHER } });
    expect(refused.refusal).toBe('@maintainer pushed `1111111` on top of `2222222`, which was never approved, so the fork\'s earlier commits still need approval: nothing was deployed.');
    expect(onto(prState(), null).refusal).toBe(
      "@maintainer pushed `1111111` on top of the fork's commits, which were never approved, so the fork's earlier commits still need approval: nothing was deployed.",
    );
    expect(decide({ jobOptions: { action: 'synchronize', before: BEFORE }, senderTrusted: false, state: prState({ trustedSha: BEFORE }) })).toMatchObject({ approved: false, refusal: null });
  });

  it('takes a commit for pushed onto another only on a push', () => {
    for (const action of ['edited', 'labeled', 'ready_for_review'] as const) {
      expect(decide({ jobOptions: { action, before: BEFORE }, state: prState({ trustedSha: BEFORE }) })).toMatchObject({ approved: false, refusal: null, vouchers: { trustedSha: BEFORE } });
    }
  });

  it('vouches for a push onto a label-approved commit only while the label is on and counts', () => {
    const state = prState({ approvedSha: BEFORE });
    const push = (labels: string[], forkApproval?: PreviewSettings['forkApproval']) =>
      decide({ jobOptions: { action: 'synchronize', before: BEFORE, labels }, state, settings: { ...settings, forkApproval } });
    expect(push([LABEL]).vouchers.trustedSha).toBe(HEAD);
    expect(push([]).vouchers.trustedSha).toBeNull();
    expect(push([LABEL], 'review').vouchers.trustedSha).toBeNull();
    const reviewed = decide({ jobOptions: { action: 'synchronize', before: BEFORE }, state: prState({ reviewApprovedSha: BEFORE }), settings: { ...settings, forkApproval: 'label' } });
    expect(reviewed.vouchers.trustedSha).toBeNull();
  });

  it('records the approval label a trusted person adds to a fork, and refuses an untrusted one', () => {
    const labelled = { action: 'labeled' as const, labels: [LABEL], label: LABEL };
    const ok = decide({ jobOptions: labelled, senderTrusted: true, approval: { by: 'label', change: 'granted' } });
    expect(ok).toMatchObject({ approved: true, granted: true, refusal: null, vouchers: { approvedSha: HEAD, approvedBy: 'maintainer', trustedSha: null } });
    const refused = decide({ jobOptions: { ...labelled, sender: 'stranger' }, senderTrusted: false, approval: { by: 'label', change: 'granted' } });
    expect(refused).toMatchObject({ approved: false, granted: true, vouchers: { approvedSha: null, approvedBy: null } });
    expect(refused.refusal).toBe("@stranger added the `preview-approved` label, but only people with write access to acme/app can approve a fork's preview (and bots cannot): nothing was deployed.");
    const own = decideApproval({ job: prJob({ ...labelled }), state: null, settings, approval: { by: 'label', change: 'granted' }, senderTrusted: false });
    expect(own).toMatchObject({ approved: true, granted: true, refusal: null, vouchers: { approvedSha: null } });
  });

  it('refuses the label where only reviews approve a fork, but not on a pull request from the repository itself', () => {
    const reviewOnly = { ...settings, forkApproval: 'review' as const };
    const d = decide({ jobOptions: { action: 'labeled', labels: [LABEL] }, settings: reviewOnly, approval: { by: 'label', change: 'granted' } });
    expect(d).toMatchObject({ approved: false, vouchers: { approvedSha: null } });
    expect(d.refusal).toBe("@maintainer added the `preview-approved` label, but here a fork's preview is approved by a review (FORK_APPROVAL=review), not by the label: nothing was deployed.");
    const own = decideApproval({ job: prJob({ action: 'labeled' }), state: null, settings: reviewOnly, approval: { by: 'label', change: 'granted' }, senderTrusted: true });
    expect(own.refusal).toBeNull();
    const removed = decide({ jobOptions: { action: 'unlabeled' }, settings: reviewOnly, approval: { by: 'label', change: 'revoked' }, state: prState({ approvedSha: HEAD, approvedBy: 'm' }) });
    expect(removed).toMatchObject({ refusal: null, withdrawn: null, vouchers: { approvedSha: HEAD, approvedBy: 'm' } });
  });

  it('withdraws the label approval when the label is removed', () => {
    const d = decide({ jobOptions: { action: 'unlabeled' }, approval: { by: 'label', change: 'revoked' }, state: prState({ approvedSha: HEAD, approvedBy: 'm' }), senderTrusted: false });
    expect(d).toMatchObject({ approved: false, granted: false, vouchers: { approvedSha: null, approvedBy: null } });
    expect(d.withdrawn).toBe("The `preview-approved` label was removed, so this fork's preview is being removed.");
  });

  it('records a trusted review of the head', () => {
    const d = decideApproval({ job: reviewJob({ fork: true }), state: null, settings, approval: granted(), senderTrusted: true });
    expect(d).toMatchObject({ approved: true, granted: true, refusal: null, vouchers: { reviewApprovedSha: HEAD, reviewApprovedBy: 'reviewer', reviewApprovalId: 31n } });
  });

  it('refuses a review by someone without write access, of another commit, or of no commit', () => {
    const review = (approval: ApprovalChange, senderTrusted = true) => decideApproval({ job: reviewJob({ fork: true }), state: null, settings, approval, senderTrusted });
    expect(review(granted(), false).refusal).toBe(
      "@reviewer approved `1111111` in a review, but only people with write access to acme/app can approve a fork's preview (and bots cannot): nothing was deployed.",
    );
    expect(review(granted(null), false).refusal).toBe(
      "@reviewer approved the pull request in a review, but only people with write access to acme/app can approve a fork's preview (and bots cannot): nothing was deployed.",
    );
    expect(review(granted(OTHER)).refusal).toBe(
      '@reviewer approved `3333333` in a review, but the head is now `1111111`; a review approves only the commit it was made on, so nothing was deployed.',
    );
    expect(review(granted(null)).refusal).toBe(
      '@reviewer approved the pull request in a review, but GitHub named no commit for it; a review approves only the commit it was made on, so nothing was deployed.',
    );
    for (const d of [review(granted(), false), review(granted(OTHER)), review(granted(null))]) {
      expect(d).toMatchObject({ approved: false, granted: false, vouchers: { reviewApprovedSha: null, reviewApprovedBy: null, reviewApprovalId: null } });
    }
  });

  it('refuses a review where only the label approves a fork, and ignores reviews of a pull request from the repository', () => {
    const labelOnly = { ...settings, forkApproval: 'label' as const };
    const d = decideApproval({ job: reviewJob({ fork: true }), state: null, settings: labelOnly, approval: granted(), senderTrusted: true });
    expect(d).toMatchObject({ approved: false, granted: false, vouchers: { reviewApprovedSha: null } });
    expect(d.refusal).toBe(
      "@reviewer approved the pull request in a review, but here a fork's preview is approved by the `preview-approved` label (FORK_APPROVAL=label), not by reviews: nothing was deployed.",
    );
    const state = prState({ reviewApprovedSha: HEAD, reviewApprovalId: 31n });
    expect(decideApproval({ job: reviewJob({ fork: true, reviewState: 'dismissed' }), state, settings: labelOnly, approval: { by: 'review', change: 'revoked', reviewId: 31 }, senderTrusted: true })).toMatchObject({
      refusal: null,
      withdrawn: null,
      vouchers: { reviewApprovedSha: HEAD },
    });
    expect(decideApproval({ job: reviewJob(), state: null, settings, approval: granted(), senderTrusted: true })).toMatchObject({ granted: false, refusal: null, vouchers: { reviewApprovedSha: null } });
  });

  it('withdraws the review approval in force when that review is dismissed, and no other', () => {
    const state = prState({ reviewApprovedSha: BEFORE, reviewApprovedBy: 'reviewer', reviewApprovalId: 31n });
    const dismiss = (reviewId: number, s: PullRequestState = state) =>
      decideApproval({ job: reviewJob({ fork: true, reviewState: 'dismissed' }), state: s, settings, approval: { by: 'review', change: 'revoked', reviewId }, senderTrusted: true });
    const d = dismiss(31);
    expect(d).toMatchObject({ approved: false, vouchers: { reviewApprovedSha: null, reviewApprovedBy: null, reviewApprovalId: null } });
    expect(d.withdrawn).toBe("@maintainer dismissed the review that approved `2222222`, so this fork's preview is being removed.");
    expect(dismiss(31, prState({ reviewApprovedSha: null, reviewApprovalId: 31n })).withdrawn).toBe(
      "@maintainer dismissed the review that approved `1111111`, so this fork's preview is being removed.",
    );
    expect(dismiss(32)).toMatchObject({ withdrawn: null, vouchers: { reviewApprovedSha: BEFORE, reviewApprovalId: 31n } });
  });

  it('tells how to approve the head by the ways that count, the label removed first when it is on', () => {
    const how = (forkApproval: PreviewSettings['forkApproval'], labels: string[] = []) => decide({ settings: { ...settings, forkApproval }, jobOptions: { labels } }).how;
    expect(how(undefined)).toBe('approves the pull request in a review or adds the `preview-approved` label');
    expect(how('both', [LABEL])).toBe('approves the pull request in a review or removes and adds the `preview-approved` label again');
    expect(how('label')).toBe('adds the `preview-approved` label');
    expect(how('review', [LABEL])).toBe('approves the pull request in a review');
  });
});

describe(reviewMatters.name, () => {
  const state = prState({ reviewApprovalId: 31n });
  const matters = (over: Partial<Parameters<typeof reviewMatters>[0]>) => reviewMatters({ job: reviewJob({ fork: true }), state, settings, approval: granted(), ...over });

  it('holds for a fork\'s review approval, and for the dismissal of the one in force, where reviews count', () => {
    expect(matters({})).toBe(true);
    expect(matters({ approval: { by: 'review', change: 'revoked', reviewId: 31 } })).toBe(true);
    expect(matters({ approval: { by: 'review', change: 'revoked', reviewId: 30 } })).toBe(false);
    expect(matters({ approval: { by: 'review', change: 'revoked', reviewId: 31 }, state: null })).toBe(false);
    expect(matters({ approval: { by: 'label', change: 'granted' } })).toBe(false);
    expect(matters({ approval: undefined })).toBe(false);
    expect(matters({ job: reviewJob() })).toBe(false);
    expect(matters({ settings: { ...settings, forkApproval: 'label' } })).toBe(false);
  });
});
