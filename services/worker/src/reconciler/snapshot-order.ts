import type { PullRequestState } from '@ephemera/db';
import type { PullRequestEventJob } from '@ephemera/schema';
import type { SnapshotAuthority } from '../pull-request-reconciler.js';
import { SameSecondConflict, StaleApproval } from './reconcile-errors.js';

/**
 * Whether the event's snapshot is older than the last one applied (`stale`: it changes nothing) or is to be
 * applied. Every pull_request event carries the whole PR, so applying the newest snapshot is enough, and an older
 * one (GitHub does not promise order) is recognised by `updated_at`. Throws {@link StaleApproval} for an older
 * event whose review must not be lost (`reviewMatters`), and {@link SameSecondConflict} for one of the same second
 * that disagrees with the last applied.
 */
export function snapshotOrder(job: PullRequestEventJob, state: PullRequestState | null, authority: SnapshotAuthority, reviewMatters: boolean): 'stale' | 'apply' {
  const pr = job.pullRequest;
  if (authority !== 'event' || !state?.lastEventAt) return 'apply';
  const lastAt = state.lastEventAt;
  const eventAt = new Date(pr.updatedAt);
  const what = `${job.repository.fullName}#${pr.number}`;
  // Strictly older only: GitHub's timestamps have one-second resolution, and events of the same second
  // (opened, then labeled) must all apply, unless they disagree on what the PR is.
  if (eventAt < lastAt && reviewMatters) throw new StaleApproval(`${what}: a review older than the last applied event`);
  if (eventAt < lastAt) return 'stale';
  if (eventAt.getTime() === lastAt.getTime() && state.lastPrState != null && (state.lastPrState !== pr.state || state.lastHeadSha !== pr.headSha)) {
    throw new SameSecondConflict(
      `${what}: an event of the same second disagrees with the last applied one (${state.lastPrState} ${state.lastHeadSha?.slice(0, 7)} against ${pr.state} ${pr.headSha.slice(0, 7)})`,
    );
  }
  return 'apply';
}
