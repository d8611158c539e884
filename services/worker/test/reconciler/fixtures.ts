import type { Environment, PullRequestRecord, PullRequestState } from '@ephemera/db';
import type { PullRequestJob, PullRequestReviewJob } from '@ephemera/schema';
import type { PreviewSettings } from '../../src/pull-request-reconciler.js';

// Pull request events and records as the reconciler reads them, for unit tests with no database.

export const HEAD = '1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
export const BEFORE = '2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
export const OTHER = '3333333ccccccccccccccccccccccccccccccccc';
export const UPDATED_AT = '2026-03-01T12:00:00Z';

export const settings: PreviewSettings = { previewBaseDomain: 'preview.example.test', previewLabel: undefined, approveLabel: 'preview-approved' };

export interface JobOptions {
  action?: PullRequestJob['action'];
  fork?: boolean;
  labels?: string[];
  state?: 'open' | 'closed';
  draft?: boolean;
  headSha?: string;
  before?: string | null;
  label?: string | null;
  installationId?: number | null;
  updatedAt?: string;
  baseSha?: string | null;
  sender?: string;
}

function pullRequest(o: JobOptions): PullRequestJob['pullRequest'] {
  return {
    number: 7,
    title: 'Add the thing',
    state: o.state ?? 'open',
    draft: o.draft ?? false,
    merged: false,
    headSha: o.headSha ?? HEAD,
    headRef: 'feature/thing',
    headRepoFullName: o.fork ? 'stranger/app' : 'acme/app',
    baseRepoFullName: 'acme/app',
    baseSha: o.baseSha === undefined ? BEFORE : o.baseSha,
    updatedAt: o.updatedAt ?? UPDATED_AT,
    authorAssociation: 'CONTRIBUTOR',
    author: { id: 42, login: 'author', avatarUrl: null, email: null },
    labels: o.labels ?? [],
  };
}

export function prJob(o: JobOptions = {}): PullRequestJob {
  return {
    deliveryId: '00000000-0000-4000-8000-000000000001',
    receivedAt: UPDATED_AT,
    installationId: o.installationId === undefined ? 99 : o.installationId,
    event: 'pull_request',
    action: o.action ?? 'opened',
    repository: { id: 500, fullName: 'acme/app', name: 'app', ownerLogin: 'acme' },
    pullRequest: pullRequest(o),
    label: o.label ?? null,
    before: o.before ?? null,
    sender: { id: 1, login: o.sender ?? 'maintainer', type: 'User' },
  };
}

export function reviewJob(o: JobOptions & { reviewState?: string } = {}): PullRequestReviewJob {
  const base = prJob(o);
  return {
    deliveryId: base.deliveryId,
    receivedAt: base.receivedAt,
    installationId: base.installationId,
    event: 'pull_request_review',
    action: o.reviewState === 'dismissed' ? 'dismissed' : 'submitted',
    repository: base.repository,
    pullRequest: base.pullRequest,
    review: { id: 31, commitId: base.pullRequest.headSha, state: o.reviewState ?? 'approved', user: { id: 2, login: 'reviewer', type: 'User' } },
    sender: base.sender,
  };
}

export function environment(over: Partial<Environment> = {}): Environment {
  return { id: 10, status: 'READY', commitSha: HEAD, lastAction: null, waitingSince: null, repositoryId: 500n, ...over } as Environment;
}

export function prState(over: Partial<PullRequestState> = {}): PullRequestState {
  return {
    repositoryId: 500n,
    lastEventAt: new Date('2026-03-01T11:00:00Z'),
    approvedSha: null,
    approvedBy: null,
    reviewApprovedSha: null,
    reviewApprovedBy: null,
    reviewApprovalId: null,
    trustedSha: null,
    heldSha: null,
    lastPrState: 'open',
    lastHeadSha: HEAD,
    note: null,
    ...over,
  } as PullRequestState;
}

export function record(over: Partial<PullRequestRecord> = {}): PullRequestRecord {
  return { environment: null, state: null, latest: null, active: [], ...over };
}
