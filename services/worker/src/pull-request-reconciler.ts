import {
  getOrCreateUser,
  lockPullRequest,
  readPullRequest,
  writePullRequest,
  type PullRequestKey,
  type PullRequestRecord,
  type PullRequestWrite,
} from '@ephemera/db';
import { namespaceFor, type EnvironmentStatus, type PullRequestEventJob, type PullRequestJob } from '@ephemera/schema';
import type { HandlerContext } from './handlers/handler.js';
import { lockRepository, placesTaken, waitingAhead, waitingNote } from './repository-capacity.js';
import type { Touched } from './touched.js';

export interface PreviewSettings {
  previewBaseDomain: string;
  /** Only PRs with this label get a preview, when set. */
  previewLabel: string | undefined;
  approveLabel: string;
  /** FORK_APPROVAL: how a fork's commit is approved: by a review of it, by the approval label, or either (default). */
  forkApproval?: ForkApproval;
  /** Scheme of the preview URL (PREVIEW_URL_SCHEME, default https). */
  previewUrlScheme?: 'http' | 'https';
  /** MAX_ENVIRONMENTS_PER_REPO (0 or unset: no limit). */
  maxEnvironmentsPerRepo?: number;
  /** DEPLOYMENT_LOG_MAX_BYTES: every path that writes a deployment's logs keeps its newest this many bytes. */
  logMaxBytes?: number;
}

const ALIVE = new Set<EnvironmentStatus>(['PENDING', 'PROVISIONING', 'READY', 'UPDATING', 'FAILED']);

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

/**
 * How a snapshot is weighed against what was applied before:
 * - `event` (a webhook): an older snapshot is stale; one of the same second that disagrees with the last applied
 *   (open against closed, another head commit) cannot be ordered by its timestamp and raises {@link SameSecondConflict};
 * - `github`: GitHub's own record of the PR as it is now (asked after such a conflict, or by the resync) is applied;
 * - `arrival`: a same-second conflict GitHub could not be asked about is applied in arrival order.
 */
export type SnapshotAuthority = 'event' | 'github' | 'arrival';

/** An event of the same second as the last applied one that disagrees with it: GitHub is asked which is current. */
export class SameSecondConflict extends Error {
  override readonly name = 'SameSecondConflict';
}

/** An optimistic application found the pull request changed since it read it: it is read and decided again. */
export class ConcurrentChange extends Error {
  override readonly name = 'ConcurrentChange';
}

/**
 * A review's approval or dismissal in an event older than what was applied: the approval is bound to the commit
 * reviewed, not to the event's snapshot, so it is applied to GitHub's record of the pull request as it is now.
 */
export class StaleApproval extends Error {
  override readonly name = 'StaleApproval';
}

/** What only a transaction under the pull request's lock may decide (a row from before ids were kept, a repository's capacity). */
export class NeedsTransaction extends Error {
  override readonly name = 'NeedsTransaction';
}

export function pullRequestKey(job: PullRequestEventJob): PullRequestKey {
  return { repositoryId: job.repository.id, repositoryFullName: job.repository.fullName, prNumber: job.pullRequest.number };
}

/**
 * Brings a pull request's environment in line with the PR as the event shows it. Every pull_request event
 * carries the whole PR (state, draft, labels, head commit), so applying the newest snapshot is enough, and an
 * older one (GitHub does not promise order) is recognised by `updated_at` and changes nothing.
 *
 * A fork's code runs only with the say-so of someone who may write to the repository, as GitHub reports their
 * permission (`ctx.facts.senderTrusted`, asked before the transaction): a commit is deployable when a trusted
 * sender opened the PR with it, or pushed it onto a commit that was itself trusted or approved (a maintainer's push
 * onto the fork's unapproved commits carries them), or when a trusted sender approved exactly that commit: with the
 * approval label while it was the head, or with a review made on it (`FORK_APPROVAL` says which ways count).
 *
 * It reads the PR once and writes it in one statement: inside the caller's transaction, under the PR's lock (taken
 * here unless the caller holds it, `ctx.locked`), or, with `ctx.optimistic`, without a transaction: the write then
 * takes the lock, records the delivery and applies only if what was read is unchanged ({@link ConcurrentChange}
 * otherwise), and what needs the lock held from the read on throws {@link NeedsTransaction}.
 */
export async function reconcilePullRequest(ctx: HandlerContext, job: PullRequestEventJob, approval: ApprovalChange = undefined): Promise<Touched> {
  const { tx, settings } = ctx;
  const authority = ctx.authority ?? 'event';
  const repo = job.repository.fullName;
  const pr = job.pullRequest;
  const key = pullRequestKey(job);
  const optimistic = ctx.optimistic;
  if (!ctx.locked && !optimistic) await lockPullRequest(tx, key);
  let record = await readPullRequest(tx, key);
  if (record.environment?.repositoryId === null || record.state?.repositoryId === null) {
    if (optimistic) throw new NeedsTransaction('a row from before repository ids were kept');
    // A row from before repository ids were kept: the provisioning steps lock it by name until this write gives it the id.
    await lockPullRequest(tx, { ...key, repositoryId: null });
    record = await readPullRequest(tx, key);
  }
  const { environment: env, state } = record;
  const touched: Touched = { key, installationId: job.installationId };

  const fromFork = isFromFork(pr);
  const ways = approvalWays(settings);
  // A review's approval (or the dismissal of the one in force) of a fork's commit, which must not be lost to the age
  // of the snapshot it came with.
  const reviewMatters =
    fromFork &&
    ways.review &&
    approval?.by === 'review' &&
    (approval.change === 'granted' || (state?.reviewApprovalId != null && state.reviewApprovalId === BigInt(approval.reviewId)));

  const eventAt = new Date(pr.updatedAt);
  const lastAt = state?.lastEventAt ?? null;
  if (authority === 'event' && lastAt) {
    // Strictly older only: GitHub's timestamps have one-second resolution, and events of the same second
    // (opened, then labeled) must all apply, unless they disagree on what the PR is.
    if (eventAt < lastAt && reviewMatters) throw new StaleApproval(`${repo}#${pr.number}: a review older than the last applied event`);
    if (eventAt < lastAt) return { ...touched, stale: true };
    if (eventAt.getTime() === lastAt.getTime() && state?.lastPrState != null && (state.lastPrState !== pr.state || state.lastHeadSha !== pr.headSha)) {
      throw new SameSecondConflict(`${repo}#${pr.number}: an event of the same second disagrees with the last applied one (${state.lastPrState} ${state.lastHeadSha?.slice(0, 7)} against ${pr.state} ${pr.headSha.slice(0, 7)})`);
    }
  }

  const senderTrusted = ctx.facts.senderTrusted === true;
  const head = pr.headSha;
  const labelOn = pr.labels.includes(settings.approveLabel);
  let approvedSha = state?.approvedSha ?? null;
  let approvedBy = state?.approvedBy ?? null;
  let reviewApprovedSha = state?.reviewApprovedSha ?? null;
  let reviewApprovedBy = state?.reviewApprovedBy ?? null;
  let reviewApprovalId = state?.reviewApprovalId ?? null;
  let trustedSha = state?.trustedSha ?? null;
  const whoMayApprove = `only people with write access to ${repo} can approve a fork's preview`;
  const how = howToApprove(settings, labelOn);
  /** Why what this event asked for deploys nothing (the comment says it when the head stays held). */
  let refusal: string | null = null;
  /** The comment when an approval in force was withdrawn (the preview goes unless something else covers the head). */
  let withdrawn: string | null = null;
  /** A commit vouched for: trusted, or approved in a way that counts (as the variables stand when it is asked). */
  const vouched = (sha: string | null) =>
    sha !== null && (sha === trustedSha || (ways.label && sha === approvedSha && labelOn) || (ways.review && sha === reviewApprovedSha));

  if (approval?.by === 'label') {
    if (!ways.label) {
      if (approval.change === 'granted' && fromFork) {
        refusal = `@${job.sender.login} added the \`${settings.approveLabel}\` label, but here a fork's preview is approved by a review (FORK_APPROVAL=review), not by the label: nothing was deployed.`;
      }
    } else if (approval.change === 'granted') {
      if (fromFork && senderTrusted) {
        approvedSha = head;
        approvedBy = job.sender.login;
      } else if (fromFork) {
        refusal = `@${job.sender.login} added the \`${settings.approveLabel}\` label, but ${whoMayApprove} (and bots cannot): nothing was deployed.`;
      }
    } else {
      approvedSha = null;
      approvedBy = null;
      withdrawn = `The \`${settings.approveLabel}\` label was removed, so this fork's preview is being removed.`;
    }
  }

  let reviewRecorded = false;
  if (approval?.by === 'review' && fromFork) {
    if (!ways.review) {
      if (approval.change === 'granted') {
        refusal = `@${approval.reviewer} approved the pull request in a review, but here a fork's preview is approved by the \`${settings.approveLabel}\` label (FORK_APPROVAL=label), not by reviews: nothing was deployed.`;
      }
    } else if (approval.change === 'granted') {
      const reviewed = approval.commitSha;
      const what = reviewed ? short(reviewed) : 'the pull request';
      if (!senderTrusted) {
        refusal = `@${approval.reviewer} approved ${what} in a review, but ${whoMayApprove} (and bots cannot): nothing was deployed.`;
      } else if (reviewed !== head) {
        // The approval covers the commit the reviewer saw, never one pushed after it.
        refusal = reviewed
          ? `@${approval.reviewer} approved ${what} in a review, but the head is now ${short(head)}; a review approves only the commit it was made on, so nothing was deployed.`
          : `@${approval.reviewer} approved the pull request in a review, but GitHub named no commit for it; a review approves only the commit it was made on, so nothing was deployed.`;
      } else {
        reviewApprovedSha = reviewed;
        reviewApprovedBy = approval.reviewer;
        reviewApprovalId = BigInt(approval.reviewId);
        reviewRecorded = true;
      }
    } else if (reviewMatters) {
      withdrawn = `@${job.sender.login} dismissed the review that approved ${short(reviewApprovedSha ?? head)}, so this fork's preview is being removed.`;
      reviewApprovedSha = null;
      reviewApprovedBy = null;
      reviewApprovalId = null;
    }
  }

  if (fromFork && senderTrusted && job.event === 'pull_request') {
    // The commit a trusted person opened the pull request with, or pushed onto one already vouched for. A push onto
    // the fork's unapproved commits ("Update branch", a fix on top) contains them: it vouches for nothing.
    if (job.action === 'opened' || (job.action === 'synchronize' && vouched(job.before))) {
      trustedSha = head;
    } else if (job.action === 'synchronize') {
      const onto = job.before ? `${short(job.before)}, which was never approved` : "the fork's commits, which were never approved";
      refusal = `@${job.sender.login} pushed ${short(head)} on top of ${onto}, so the fork's earlier commits still need approval: nothing was deployed.`;
    }
  }

  const qualifies = !pr.draft && (!settings.previewLabel || pr.labels.includes(settings.previewLabel));
  const wanted = pr.state === 'open' && qualifies;
  // After this event's changes: the head as vouched for now.
  const approved = !fromFork || vouched(head);

  const write: PullRequestWrite = {
    key,
    from: record,
    supersede: null,
    environment: null,
    deployment: null,
    state: {
      installationId: job.installationId === null ? null : BigInt(job.installationId),
      lastEventAt: lastAt && lastAt > eventAt ? lastAt : eventAt,
      approvedSha,
      approvedBy,
      reviewApprovedSha,
      reviewApprovedBy,
      reviewApprovalId,
      trustedSha,
      heldSha: null,
      lastPrState: pr.state,
      lastHeadSha: pr.headSha,
      note: null,
    },
  };
  let status: EnvironmentStatus | undefined;
  let waitingSince: Date | null | undefined;
  const supersede = (reason: string) => {
    write.supersede = { ids: record.active, reason };
  };

  if (!wanted) {
    if (!env && pr.state === 'closed' && qualifies && approved) {
      // Closed before any event that would have created its environment was applied (GitHub does not
      // promise order, and the opened event may never come): the record is made and torn down like the one
      // an in-order history leaves, so the outcome does not depend on arrival order.
      write.environment = { insert: { ...(await environmentInsert(ctx, job)), status: 'DESTROYING' } };
    } else if (env && env.status === 'DESTROYING') {
      // Reopened and closed again while being destroyed: the deployment queued by the reopen is void.
      supersede('pull request closed');
    } else if (env && ALIVE.has(env.status)) {
      supersede('pull request closed');
      status = 'DESTROYING';
      write.state.note =
        pr.state === 'closed'
          ? 'The pull request was closed, so its preview is being removed. Reopen it to bring the preview back.'
          : pr.draft
            ? 'The pull request is a draft, so its preview is being removed. Mark it ready for review to bring it back.'
            : `The \`${settings.previewLabel}\` label was removed, so the preview is being removed. Add it again to bring it back.`;
    }
  } else if (!approved && withdrawn && env && ALIVE.has(env.status)) {
    // The approval that let this fork's code run was withdrawn (the label removed, the review dismissed): the preview goes.
    supersede('approval withdrawn');
    status = 'DESTROYING';
    write.state.heldSha = head;
    write.state.note = `${withdrawn} Someone with write access ${how} to deploy ${short(head)}.`;
  } else if (!approved) {
    // A fork's code runs in the preview: it waits for a maintainer. A running preview keeps the approved commit.
    write.state.heldSha = head;
    write.state.note = refusal
      ? `${refusal} Someone with write access ${how} to deploy ${short(head)}.`
      : env
        ? `New commits from a fork need approval before they are deployed: someone with write access ${how} to deploy ${short(head)}.`
        : `This pull request comes from a fork, so its preview waits for approval: someone with write access to ${repo} ${how} to deploy ${short(head)}.`;
  } else {
    const limit = settings.maxEnvironmentsPerRepo ?? 0;
    const kept = keptDestroyed(record, job, settings, approval?.by === 'label' ? approval.change === 'granted' : reviewRecorded);
    // A new environment, or one coming back, takes a place: counted under the repository's lock.
    const takesPlace = limit > 0 && !kept && (!env || env.status === 'DESTROYED');
    if (takesPlace && optimistic) throw new NeedsTransaction('counting places under MAX_ENVIRONMENTS_PER_REPO');
    if (takesPlace) await lockRepository(tx, key);
    const full = takesPlace && (await placesTaken(tx, key, env?.id)) >= limit;
    if (full) waitingSince = new Date();
    if (!env) {
      if (job.installationId === null) {
        write.state.note = 'This repository sends webhooks directly rather than through the Ephemera GitHub App.';
      }
      write.environment = { insert: { ...(await environmentInsert(ctx, job)), status: 'PENDING', waitingSince: waitingSince ?? null } };
      write.deployment = { commitSha: pr.headSha, commitMessage: pr.title };
    } else if (kept) {
      // Nothing is deployed, and the comment keeps saying why the preview went.
      write.state.note = state?.note ?? null;
    } else if (needsDeployment(record, pr.headSha)) {
      supersede(`superseded by ${pr.headSha.slice(0, 7)}`);
      // DESTROYING: the destroy finishes first, then this queued deployment brings the environment back.
      if (env.status === 'DESTROYED' || env.status === 'FAILED') status = 'PENDING';
      write.deployment = { commitSha: pr.headSha, commitMessage: pr.title };
    }
    const since = waitingSince ?? (env?.status === 'PENDING' ? env.waitingSince : null);
    if (since) write.state.note = waitingNote(limit, await waitingAhead(tx, key, since));
  }

  if (env) {
    write.environment = {
      update: {
        repositoryName: job.repository.name,
        prTitle: pr.title,
        branchName: pr.headRef,
        fromFork,
        ...(pr.baseSha !== null ? { baseSha: pr.baseSha } : {}),
        // The head commit, except while a fork's new commit waits for approval: then the deployed one stays.
        ...(approved || !wanted ? { commitSha: pr.headSha } : {}),
        ...(job.installationId !== null ? { installationId: BigInt(job.installationId) } : {}),
        ...(waitingSince !== undefined ? { waitingSince } : {}),
      },
      ...(status !== undefined ? { status } : {}),
    };
  }
  const written = await writePullRequest(tx, write, { ...(optimistic ? { optimistic } : {}), ...(settings.logMaxBytes !== undefined ? { logMaxBytes: settings.logMaxBytes } : {}) });
  if (written.outcome === 'conflict') throw new ConcurrentChange(`${repo}#${pr.number} changed while this event was decided`);
  if (written.outcome === 'duplicate') return { ...touched, duplicate: true };
  return { ...touched, environment: written.environment, latest: written.latest };
}

/**
 * A new deployment when the commit changed or the environment is coming back. A reopen while the environment is
 * still being destroyed, whose deployment is already queued, needs none.
 */
function needsDeployment({ environment: env, latest }: PullRequestRecord, headSha: string): boolean {
  const comingBack = env!.status === 'DESTROYED' || env!.status === 'DESTROYING' || env!.status === 'FAILED';
  const sameCommit = latest !== null && latest.commitSha === headSha && latest.status !== 'FAILED';
  if (sameCommit && !comingBack) return false;
  return !(sameCommit && env!.status === 'DESTROYING' && latest.status === 'QUEUED');
}

/**
 * A preview destroyed on request (the dashboard, the write API) stays destroyed as after a close, though its pull
 * request is still open: a push (another head commit), a reopen, ready for review, or the preview or approval label
 * added brings it back; an edit or another label does not.
 */
function keptDestroyed({ environment: env, state }: PullRequestRecord, job: PullRequestEventJob, settings: PreviewSettings, approvalGranted: boolean): boolean {
  if (env?.lastAction !== 'destroy' || (env.status !== 'DESTROYING' && env.status !== 'DESTROYED')) return false;
  const pr = job.pullRequest;
  const bringsBack =
    pr.headSha !== env.commitSha ||
    state?.lastPrState === 'closed' ||
    (job.event === 'pull_request' && ['opened', 'reopened', 'synchronize', 'ready_for_review'].includes(job.action)) ||
    approvalGranted ||
    (job.event === 'pull_request' && job.action === 'labeled' && settings.previewLabel !== undefined && job.label === settings.previewLabel);
  return !bringsBack;
}

async function environmentInsert(ctx: HandlerContext, job: PullRequestEventJob) {
  const { settings } = ctx;
  const pr = job.pullRequest;
  const owner = await getOrCreateUser(ctx.tx, {
    githubId: pr.author.id,
    githubLogin: pr.author.login,
    email: pr.author.email,
    avatarUrl: pr.author.avatarUrl,
  });
  const namespace = namespaceFor(job.repository.fullName, pr.number, job.repository.id);
  return {
    repositoryName: job.repository.name,
    prTitle: pr.title,
    branchName: pr.headRef,
    commitSha: pr.headSha,
    namespace,
    environmentUrl: `${settings.previewUrlScheme ?? 'https'}://${namespace}.${settings.previewBaseDomain}`,
    // A repository webhook has no installation; 0 marks it (feedback cannot be sent for it).
    installationId: BigInt(job.installationId ?? 0),
    ownerId: owner.id,
    baseSha: pr.baseSha,
    fromFork: isFromFork(pr),
    waitingSince: null,
  };
}

/** Which ways of approving a fork's commit count (FORK_APPROVAL, default both). */
export function approvalWays(settings: Pick<PreviewSettings, 'forkApproval'>): { label: boolean; review: boolean } {
  const mode = settings.forkApproval ?? 'both';
  return { label: mode !== 'review', review: mode !== 'label' };
}

/** What a person with write access does to approve the head, as the comment tells it (which ways count). */
function howToApprove(settings: PreviewSettings, labelOn: boolean): string {
  const label = `${labelOn ? 'removes and adds' : 'adds'} the \`${settings.approveLabel}\` label${labelOn ? ' again' : ''}`;
  switch (settings.forkApproval ?? 'both') {
    case 'label':
      return label;
    case 'review':
      return 'approves the pull request in a review';
    default:
      return `approves the pull request in a review or ${label}`;
  }
}

const short = (sha: string) => `\`${sha.slice(0, 7)}\``;

/** A PR whose head is not in the base repository (or whose fork was deleted) carries someone else's code. */
export function isFromFork(pr: PullRequestJob['pullRequest']): boolean {
  return pr.headRepoFullName === null || pr.headRepoFullName.toLowerCase() !== pr.baseRepoFullName.toLowerCase();
}
