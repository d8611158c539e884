import { createHash } from 'node:crypto';
import { webhookExample } from './webhook-examples.js';

/** The repository of GitHub's example payloads, and its id there. */
const EXAMPLE_REPOSITORY = { fullName: 'Codertocat/Hello-World', id: 186853002 };

/**
 * The GitHub id the fakes give a repository: the example's own for the example repository, a stable number derived
 * from the (lowercased) name for any other, so payloads and the fake GitHub's API agree on it.
 */
export function repositoryIdOf(fullName: string): number {
  if (fullName.toLowerCase() === EXAMPLE_REPOSITORY.fullName.toLowerCase()) return EXAMPLE_REPOSITORY.id;
  return 1_000_000 + (createHash('sha256').update(fullName.toLowerCase()).digest().readUInt32BE(0) % 900_000_000);
}

// The example payloads are deep, loosely typed JSON; this module edits them in place.
/* eslint-disable @typescript-eslint/no-explicit-any */
interface PullRequestVariant {
  action: string;
  number?: number;
  repository?: string;
  /** GitHub's id of the repository; {@link repositoryIdOf} the repository's name when omitted (a rename keeps the id). */
  repositoryId?: number;
  headSha?: string;
  /** The base branch's commit (`pull_request.base.sha`). */
  baseSha?: string;
  updatedAt?: string;
  state?: 'open' | 'closed';
  merged?: boolean;
  draft?: boolean;
  labels?: string[];
  label?: string;
  /** owner/name of the fork the PR comes from; the base repository when omitted. */
  fromFork?: string;
  authorAssociation?: string;
  installationId?: number | null;
  title?: string;
  /** Who caused the event (`sender`); GitHub's example sender when omitted. `Bot` for an app. */
  sender?: { login: string; type?: 'User' | 'Bot' };
  /** synchronize: the head before the push (`before`); GitHub's example's when omitted. */
  before?: string;
}

/** A GitHub account as webhooks show it, with the fakes' stable id for a login. */
function account(base: Record<string, any>, who: { login: string; type?: 'User' | 'Bot' }): Record<string, any> {
  return { ...base, login: who.login, id: 5000 + who.login.length, type: who.type ?? 'User' };
}

/** The repository, pull request, sender and installation of an example payload changed as the variant says. */
function applyVariant(p: Record<string, any>, v: Omit<PullRequestVariant, 'action'> & { action: string }): void {
  const pr = p.pull_request;
  if (v.repository) {
    const [owner, name] = v.repository.split('/') as [string, string];
    p.repository.full_name = v.repository;
    p.repository.name = name;
    p.repository.owner.login = owner;
    pr.base.repo.full_name = v.repository;
    pr.head.repo.full_name = v.repository;
  }
  const repositoryId = v.repositoryId ?? repositoryIdOf(p.repository.full_name);
  p.repository.id = repositoryId;
  pr.base.repo.id = repositoryId;
  if (!v.fromFork) pr.head.repo.id = repositoryId;
  if (v.number !== undefined) pr.number = v.number;
  if (v.headSha) pr.head.sha = v.headSha;
  if (v.baseSha) pr.base.sha = v.baseSha;
  if (v.updatedAt) pr.updated_at = v.updatedAt;
  if (v.title) pr.title = v.title;
  pr.state = v.state ?? (v.action === 'closed' ? 'closed' : 'open');
  pr.merged = v.merged ?? false;
  pr.draft = v.draft ?? false;
  if (v.labels) pr.labels = v.labels.map((name, i) => ({ id: i + 1, name, color: 'ededed', default: false }));
  if (v.fromFork) pr.head.repo = { ...pr.head.repo, full_name: v.fromFork, fork: true };
  if (v.authorAssociation) pr.author_association = v.authorAssociation;
  if (v.sender) p.sender = account(p.sender, v.sender);
  if (v.installationId === null) delete p.installation;
  else if (v.installationId !== undefined) p.installation = { id: v.installationId, node_id: 'x' };
  else p.installation ??= { id: 1, node_id: 'x' };
}

/**
 * GitHub's example `pull_request` payload for the action, changed into the PR a test needs: another number,
 * repository, head commit, time, labels, or coming from a fork. Everything else stays as GitHub sent it.
 */
export function pullRequestPayload(v: PullRequestVariant): Record<string, unknown> {
  let p: Record<string, any>;
  try {
    p = webhookExample('pull_request', v.action === 'edited' ? 'opened' : v.action, { withInstallation: true }) as Record<string, any>;
  } catch {
    p = webhookExample('pull_request', v.action === 'edited' ? 'opened' : v.action) as Record<string, any>;
  }
  p.action = v.action;
  applyVariant(p, v);
  if (v.label !== undefined) p.label = { id: 99, name: v.label, color: 'ededed', default: false };
  if (v.before) p.before = v.before;
  return p;
}

interface PullRequestReviewVariant extends Omit<PullRequestVariant, 'action' | 'label' | 'before'> {
  action: 'submitted' | 'dismissed' | 'edited';
  /** `review.state`: `approved` (the default of a submitted review), `changes_requested`, `commented`; `dismissed` for a dismissal. */
  reviewState?: string;
  /** `review.commit_id`, the commit reviewed: the head when omitted. */
  commitId?: string;
  /** `review.id`. */
  reviewId?: number;
  /** The review's author (`review.user`): the sender when omitted. */
  reviewer?: { login: string; type?: 'User' | 'Bot' };
}

/**
 * GitHub's example `pull_request_review` payload for the action (@octokit/webhooks-examples), changed into the review
 * a test needs: its pull request as {@link pullRequestPayload} changes one, and the review's commit, state, id and
 * author. Everything else stays as GitHub sent it.
 */
export function pullRequestReviewPayload(v: PullRequestReviewVariant): Record<string, unknown> {
  const example = v.action === 'edited' ? 'submitted' : v.action;
  const p = webhookExample('pull_request_review', example, { withInstallation: true }) as Record<string, any>;
  p.action = v.action;
  applyVariant(p, v);
  const review = p.review;
  if (v.reviewId !== undefined) review.id = v.reviewId;
  review.commit_id = v.commitId ?? p.pull_request.head.sha;
  review.state = v.reviewState ?? (v.action === 'dismissed' ? 'dismissed' : 'approved');
  const author = v.reviewer ?? v.sender;
  if (author) review.user = account(review.user, author);
  return p;
}
