import { getOrCreateUser, lockPullRequest, readPullRequest, writePullRequest, type PullRequestKey } from '@ephemera/db';
import { namespaceFor, type PullRequestEventJob } from '@ephemera/schema';
import type { HandlerContext } from './handlers/handler.js';
import { planWrite, type PlanIo } from './reconciler/desired-environment.js';
import { decideApproval, isFromFork, reviewMatters, type ApprovalChange, type ForkApproval } from './reconciler/fork-approval.js';
import { ConcurrentChange, NeedsTransaction } from './reconciler/reconcile-errors.js';
import { snapshotOrder } from './reconciler/snapshot-order.js';
import { lockRepository, placesTaken, waitingAhead } from './repository-capacity.js';
import type { Touched } from './touched.js';

export { approvalWays, isFromFork, type ApprovalChange, type ForkApproval } from './reconciler/fork-approval.js';
export { ConcurrentChange, NeedsTransaction, SameSecondConflict, StaleApproval } from './reconciler/reconcile-errors.js';

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

/**
 * How a snapshot is weighed against what was applied before:
 * - `event` (a webhook): an older snapshot is stale; one of the same second that disagrees with the last applied
 *   (open against closed, another head commit) cannot be ordered by its timestamp and raises {@link SameSecondConflict};
 * - `github`: GitHub's own record of the PR as it is now (asked after such a conflict, or by the resync) is applied;
 * - `arrival`: a same-second conflict GitHub could not be asked about is applied in arrival order.
 */
export type SnapshotAuthority = 'event' | 'github' | 'arrival';

export function pullRequestKey(job: PullRequestEventJob): PullRequestKey {
  return { repositoryId: job.repository.id, repositoryFullName: job.repository.fullName, prNumber: job.pullRequest.number };
}

/**
 * Brings a pull request's environment in line with the PR as the event shows it: the snapshot weighed against the
 * last applied (`snapshotOrder`), the approval of a fork's head (`decideApproval`, with `ctx.facts.senderTrusted`),
 * then the environment it should have (`planWrite`).
 *
 * It reads the PR once and writes it in one statement: inside the caller's transaction, under the PR's lock (taken
 * here unless the caller holds it, `ctx.locked`), or, with `ctx.optimistic`, without a transaction: the write then
 * takes the lock, records the delivery and applies only if what was read is unchanged ({@link ConcurrentChange}
 * otherwise), and what needs the lock held from the read on throws {@link NeedsTransaction}.
 */
export async function reconcilePullRequest(ctx: HandlerContext, job: PullRequestEventJob, approval: ApprovalChange = undefined): Promise<Touched> {
  const { tx, settings } = ctx;
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
  const touched: Touched = { key, installationId: job.installationId };
  const { state } = record;
  if (snapshotOrder(job, state, ctx.authority ?? 'event', reviewMatters({ job, state, settings, approval })) === 'stale') return { ...touched, stale: true };

  const decision = decideApproval({ job, state, settings, approval, senderTrusted: ctx.facts.senderTrusted === true });
  const write = await planWrite({ key, job, record, settings, decision, optimistic: optimistic !== undefined }, planIo(ctx, job));
  const written = await writePullRequest(tx, write, { ...(optimistic ? { optimistic } : {}), ...(settings.logMaxBytes !== undefined ? { logMaxBytes: settings.logMaxBytes } : {}) });
  if (written.outcome === 'conflict') throw new ConcurrentChange(`${job.repository.fullName}#${job.pullRequest.number} changed while this event was decided`);
  if (written.outcome === 'duplicate') return { ...touched, duplicate: true };
  return { ...touched, environment: written.environment, latest: written.latest };
}

/** The database's answers to what the plan asks, in the delivery's transaction. */
function planIo(ctx: HandlerContext, job: PullRequestEventJob): PlanIo {
  const key = pullRequestKey(job);
  return {
    newEnvironment: () => environmentInsert(ctx, job),
    lockRepository: () => lockRepository(ctx.tx, key),
    placesTaken: (exceptId) => placesTaken(ctx.tx, key, exceptId),
    waitingAhead: (since) => waitingAhead(ctx.tx, key, since),
  };
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
