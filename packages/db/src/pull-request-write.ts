import type { DeploymentStatus, EnvironmentStatus } from '@ephemera/schema';
import type { PullRequestKey } from './lock-key.js';
import type { PullRequestRecord } from './read-pull-request.js';

// What one event's decision writes on a pull request, and what the write tells its caller (write-pull-request.ts).

/** A new environment, as the reconciler decides it. */
export interface EnvironmentInsert {
  repositoryName: string;
  prTitle: string | null;
  branchName: string;
  commitSha: string;
  namespace: string;
  environmentUrl: string | null;
  status: 'PENDING' | 'DESTROYING';
  installationId: bigint;
  ownerId: number | null;
  baseSha: string | null;
  fromFork: boolean;
  waitingSince: Date | null;
}

/** Fields of an existing environment kept current from the event. */
export interface EnvironmentFields {
  repositoryName: string;
  prTitle: string | null;
  branchName: string;
  fromFork: boolean;
  baseSha?: string | null;
  commitSha?: string;
  installationId?: bigint;
  waitingSince?: Date | null;
}

export interface PullRequestStateFields {
  installationId: bigint | null;
  lastEventAt: Date;
  /** A fork's commit approved with the approval label, and who added it. */
  approvedSha: string | null;
  approvedBy: string | null;
  /** A fork's commit approved by a review (`review.commit_id`), who submitted it, and the review's id. */
  reviewApprovedSha: string | null;
  reviewApprovedBy: string | null;
  reviewApprovalId: bigint | null;
  trustedSha: string | null;
  heldSha: string | null;
  lastPrState: string;
  lastHeadSha: string;
  note: string | null;
}

/** Everything one event changes on a pull request, written in one statement by {@link writePullRequest}. */
export interface PullRequestWrite {
  key: PullRequestKey;
  /** The record it was decided from (read under the same lock). */
  from: PullRequestRecord;
  /** Queued or running deployments that end as FAILED with this reason. */
  supersede: { ids: number[]; reason: string } | null;
  environment:
    | { insert: EnvironmentInsert }
    | { update: EnvironmentFields; status?: EnvironmentStatus }
    | null;
  /** A new QUEUED deployment of the environment. */
  deployment: { commitSha: string; commitMessage: string | null } | null;
  state: PullRequestStateFields;
}

export interface PullRequestWritten {
  /** `duplicate`: the delivery was applied before; `conflict`: the pull request changed since it was read (optimistic only). */
  outcome: 'applied' | 'duplicate' | 'conflict';
  environment: { id: number; status: EnvironmentStatus; waitingSince: Date | null; installationId: bigint } | null;
  /** The latest deployment after the write. */
  latest: { id: number; status: DeploymentStatus } | null;
}

/**
 * A write made without a transaction: the delivery is recorded in the same statement, which takes the pull request's
 * lock itself and writes only if the rows read are unchanged (see {@link writePullRequest}).
 */
export interface OptimisticWrite {
  delivery: { deliveryId: string; event: string; action: string | null };
}
