import type { PullRequestState } from '@ephemera/db';
import type { PullRequestEventJob, PullRequestJob } from '@ephemera/schema';
import type { PreviewSettings } from '../pull-request-reconciler.js';

// A fork's code runs only with the say-so of someone who may write to the repository, as GitHub reports their
// permission (asked before the transaction): a commit is deployable when a trusted sender opened the PR with it, or
// pushed it onto a commit that was itself trusted or approved (a maintainer's push onto the fork's unapproved commits
// carries them), or when a trusted sender approved exactly that commit: with the approval label while it was the
// head, or with a review made on it (`FORK_APPROVAL` says which ways count).

/** FORK_APPROVAL: the ways a maintainer may approve a fork's commit. */
export type ForkApproval = 'review' | 'label' | 'both';

/**
 * What an event says about the approval of a fork's commit: the approval label added or removed, or a review
 * approving a commit (`review.commit_id`, by `reviewer`) or dismissed.
 */
export type ApprovalChange =
  | { by: 'label'; change: 'granted' | 'revoked' }
  | { by: 'review'; change: 'granted'; reviewId: number; commitSha: string | null; reviewer: string }
  | { by: 'review'; change: 'revoked'; reviewId: number }
  | undefined;

/** The commits vouched for, and by whom, as the pull request's state keeps them. */
export type Vouchers = Pick<PullRequestState, 'approvedSha' | 'approvedBy' | 'reviewApprovedSha' | 'reviewApprovedBy' | 'reviewApprovalId' | 'trustedSha'>;

/** What an event is weighed with: the pull request's state as read, the event, and who sent it. */
export interface ApprovalInput {
  job: PullRequestEventJob;
  state: PullRequestState | null;
  settings: PreviewSettings;
  approval: ApprovalChange;
  /** The sender may write to the repository (GitHub's word, asked before the transaction). */
  senderTrusted: boolean;
}

/** The approval of a fork's head after an event. */
export interface ApprovalDecision {
  fromFork: boolean;
  /** The commits vouched for after this event. */
  vouchers: Vouchers;
  /** The head may be deployed: not from a fork, or vouched for. */
  approved: boolean;
  /** Why what this event asked for deploys nothing (the comment says it when the head stays held). */
  refusal: string | null;
  /** The comment when an approval in force was withdrawn (the preview goes unless something else covers the head). */
  withdrawn: string | null;
  /** This event approved the head in a way that counts: the label added, or a review of the head recorded. */
  granted: boolean;
  /** What a person with write access does to approve the head, as the comment tells it. */
  how: string;
}

/** Which ways of approving a fork's commit count (FORK_APPROVAL, default both). */
export function approvalWays(settings: Pick<PreviewSettings, 'forkApproval'>): { label: boolean; review: boolean } {
  // Stryker disable next-line StringLiteral: any default other than 'label' or 'review' counts both ways, as 'both' does
  const mode = settings.forkApproval ?? 'both';
  return { label: mode !== 'review', review: mode !== 'label' };
}

/** A PR whose head is not in the base repository (or whose fork was deleted) carries someone else's code. */
export function isFromFork(pr: PullRequestJob['pullRequest']): boolean {
  return pr.headRepoFullName === null || pr.headRepoFullName.toLowerCase() !== pr.baseRepoFullName.toLowerCase();
}

/**
 * A review's approval (or the dismissal of the one in force) of a fork's commit, which must not be lost to the age
 * of the snapshot it came with.
 */
export function reviewMatters({ job, state, settings, approval }: Omit<ApprovalInput, 'senderTrusted'>): boolean {
  return (
    isFromFork(job.pullRequest) &&
    approvalWays(settings).review &&
    approval?.by === 'review' &&
    (approval.change === 'granted' || (state?.reviewApprovalId != null && state.reviewApprovalId === BigInt(approval.reviewId)))
  );
}

export const shortSha = (sha: string) => `\`${sha.slice(0, 7)}\``;

/** The approval of the head after the event: its label or review, and a trusted person's push. */
export function decideApproval(input: ApprovalInput): ApprovalDecision {
  const { job, state, settings } = input;
  const ways = approvalWays(settings);
  const labelOn = job.pullRequest.labels.includes(settings.approveLabel);
  const d: Omit<ApprovalDecision, 'approved'> = {
    fromFork: isFromFork(job.pullRequest),
    vouchers: {
      approvedSha: state?.approvedSha ?? null,
      approvedBy: state?.approvedBy ?? null,
      reviewApprovedSha: state?.reviewApprovedSha ?? null,
      reviewApprovedBy: state?.reviewApprovedBy ?? null,
      reviewApprovalId: state?.reviewApprovalId ?? null,
      trustedSha: state?.trustedSha ?? null,
    },
    refusal: null,
    withdrawn: null,
    granted: false,
    how: howToApprove(settings, labelOn),
  };
  /** A commit vouched for: trusted, or approved in a way that counts (as the vouchers stand when it is asked). */
  const vouched = (sha: string | null) =>
    sha !== null && (sha === d.vouchers.trustedSha || (ways.label && sha === d.vouchers.approvedSha && labelOn) || (ways.review && sha === d.vouchers.reviewApprovedSha));
  if (input.approval?.by === 'label') applyLabel(input, input.approval.change, ways.label, d);
  if (input.approval?.by === 'review' && d.fromFork) applyReview(input, input.approval, ways.review, d);
  // Stryker disable next-line ConditionalExpression: a review's actions are neither opened nor synchronize; the check gives `before` its type
  if (d.fromFork && input.senderTrusted && job.event === 'pull_request') {
    // The commit a trusted person opened the pull request with, or pushed onto one already vouched for. A push onto
    // the fork's unapproved commits ("Update branch", a fix on top) contains them: it vouches for nothing.
    if (job.action === 'opened' || (job.action === 'synchronize' && vouched(job.before))) {
      d.vouchers.trustedSha = job.pullRequest.headSha;
    } else if (job.action === 'synchronize') {
      const onto = job.before ? `${shortSha(job.before)}, which was never approved` : "the fork's commits, which were never approved";
      d.refusal = `@${job.sender.login} pushed ${shortSha(job.pullRequest.headSha)} on top of ${onto}, so the fork's earlier commits still need approval: nothing was deployed.`;
    }
  }
  // After this event's changes: the head as vouched for now.
  return { ...d, approved: !d.fromFork || vouched(job.pullRequest.headSha) };
}

function whoMayApprove(job: PullRequestEventJob): string {
  return `only people with write access to ${job.repository.fullName} can approve a fork's preview`;
}

/** The approval label added or removed. */
function applyLabel({ job, settings, senderTrusted }: ApprovalInput, change: 'granted' | 'revoked', counts: boolean, d: Omit<ApprovalDecision, 'approved'>): void {
  d.granted = change === 'granted';
  if (!counts) {
    if (change === 'granted' && d.fromFork) {
      d.refusal = `@${job.sender.login} added the \`${settings.approveLabel}\` label, but here a fork's preview is approved by a review (FORK_APPROVAL=review), not by the label: nothing was deployed.`;
    }
  } else if (change === 'granted') {
    if (d.fromFork && senderTrusted) {
      d.vouchers.approvedSha = job.pullRequest.headSha;
      d.vouchers.approvedBy = job.sender.login;
    } else if (d.fromFork) {
      d.refusal = `@${job.sender.login} added the \`${settings.approveLabel}\` label, but ${whoMayApprove(job)} (and bots cannot): nothing was deployed.`;
    }
  } else {
    d.vouchers.approvedSha = null;
    d.vouchers.approvedBy = null;
    d.withdrawn = `The \`${settings.approveLabel}\` label was removed, so this fork's preview is being removed.`;
  }
}

/** A review of a fork's pull request approving a commit, or the review in force dismissed. */
function applyReview(input: ApprovalInput, approval: NonNullable<ApprovalChange> & { by: 'review' }, counts: boolean, d: Omit<ApprovalDecision, 'approved'>): void {
  const { job, settings, senderTrusted } = input;
  const head = job.pullRequest.headSha;
  if (!counts) {
    if (approval.change === 'granted') {
      d.refusal = `@${approval.reviewer} approved the pull request in a review, but here a fork's preview is approved by the \`${settings.approveLabel}\` label (FORK_APPROVAL=label), not by reviews: nothing was deployed.`;
    }
  } else if (approval.change === 'granted') {
    const reviewed = approval.commitSha;
    const what = reviewed ? shortSha(reviewed) : 'the pull request';
    if (!senderTrusted) {
      d.refusal = `@${approval.reviewer} approved ${what} in a review, but ${whoMayApprove(job)} (and bots cannot): nothing was deployed.`;
    } else if (reviewed !== head) {
      // The approval covers the commit the reviewer saw, never one pushed after it.
      d.refusal = reviewed
        ? `@${approval.reviewer} approved ${what} in a review, but the head is now ${shortSha(head)}; a review approves only the commit it was made on, so nothing was deployed.`
        : `@${approval.reviewer} approved the pull request in a review, but GitHub named no commit for it; a review approves only the commit it was made on, so nothing was deployed.`;
    } else {
      d.vouchers.reviewApprovedSha = reviewed;
      d.vouchers.reviewApprovedBy = approval.reviewer;
      d.vouchers.reviewApprovalId = BigInt(approval.reviewId);
      d.granted = true;
    }
  } else if (reviewMatters(input)) {
    d.withdrawn = `@${job.sender.login} dismissed the review that approved ${shortSha(d.vouchers.reviewApprovedSha ?? head)}, so this fork's preview is being removed.`;
    d.vouchers.reviewApprovedSha = null;
    d.vouchers.reviewApprovedBy = null;
    d.vouchers.reviewApprovalId = null;
  }
}

/** What a person with write access does to approve the head, as the comment tells it (which ways count). */
function howToApprove(settings: PreviewSettings, labelOn: boolean): string {
  const label = `${labelOn ? 'removes and adds' : 'adds'} the \`${settings.approveLabel}\` label${labelOn ? ' again' : ''}`;
  // Stryker disable next-line StringLiteral: any default other than 'label' or 'review' takes the default branch, as 'both' does
  switch (settings.forkApproval ?? 'both') {
    case 'label':
      return label;
    case 'review':
      return 'approves the pull request in a review';
    default:
      return `approves the pull request in a review or ${label}`;
  }
}
