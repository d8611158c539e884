import { z } from 'zod';
import {
  DELIVERY_ID,
  HANDLED_EVENTS,
  isHandled,
  type CommitCheckJob,
  type HandledEvent,
  type InstallationJob,
  type InstallationRepositoriesJob,
  type PullRequestJob,
  type PullRequestReviewJob,
  type WebhookJob,
} from './webhook-job.js';

// The part of GitHub's webhook payloads the worker reads. Everything else (20–30 KB of it) is dropped here,
// so jobs stay small in Redis and no secret-bearing field is ever stored.
// The rules here are those of the job schemas in webhook-job.ts, checked once on GitHub's field names, so the
// job built from them needs no second pass (the worker validates it again on its side).
const ghId = z.number().int().positive();
const ghAccount = z.object({ id: ghId, login: z.string().min(1) });
const fullName = z.string().min(3).max(256).regex(/^[^/\s]+\/[^/\s]+$/, 'must be owner/name');
const ghRepository = z.object({
  id: ghId,
  full_name: fullName,
  name: z.string().min(1).max(100),
  owner: z.object({ login: z.string().min(1) }),
});
const isoTime = z.iso.datetime({ offset: true });
const ghInstallationRef = z.object({ id: ghId }).nullish();
/** The installation an installation event is about, and the account it is on. */
const ghInstallation = z.object({ id: ghId, account: z.object({ login: z.string() }).nullish() });
/** An account acting: a sender, a reviewer. */
const ghActor = ghAccount.extend({ type: z.string().nullish() });

const sha40 = z.string().regex(/^[0-9a-f]{40}$/, 'must be a 40-character commit sha');

const ghPullRequestCommon = z.object({
  installation: ghInstallationRef,
  repository: ghRepository,
  sender: ghActor,
  pull_request: z.object({
    number: z.number().int().positive(),
    title: z.string(),
    state: z.enum(['open', 'closed']),
    draft: z.boolean().nullish(),
    merged: z.boolean().nullish(),
    updated_at: isoTime,
    author_association: z.string(),
    user: ghAccount.extend({ avatar_url: z.string().nullish(), email: z.string().nullish() }),
    labels: z.array(z.object({ name: z.string() })).nullish(),
    head: z.object({
      sha: sha40,
      ref: z.string().min(1),
      repo: z.object({ full_name: fullName }).nullish(),
    }),
    base: z.object({ sha: sha40, repo: z.object({ full_name: fullName }) }),
  }),
});

const ghPullRequestEvent = ghPullRequestCommon.extend({
  label: z.object({ name: z.string() }).nullish(),
  /** synchronize: the head before the push. */
  before: sha40.nullish(),
});

const ghPullRequestReviewEvent = ghPullRequestCommon.extend({
  review: z.object({
    id: ghId,
    commit_id: sha40.nullish(),
    state: z.string().max(64),
    user: ghActor.nullish(),
  }),
});

const ghInstallationEvent = z.object({
  installation: ghInstallation,
  repositories: z.array(z.object({ full_name: fullName })).nullish(),
});

const ghInstallationRepositoriesEvent = z.object({
  installation: ghInstallation,
  repositories_removed: z.array(z.object({ id: ghId, full_name: fullName })),
});

const ghCommitEvent = z.object({ installation: ghInstallationRef, repository: ghRepository });
const ghCheckRunEvent = ghCommitEvent.extend({ check_run: z.object({ name: z.string().max(1024), head_sha: sha40 }) });
const ghCheckSuiteEvent = ghCommitEvent.extend({ check_suite: z.object({ head_sha: sha40 }) });
const ghWorkflowRunEvent = ghCommitEvent.extend({ workflow_run: z.object({ head_sha: sha40 }) });
const ghStatusEvent = ghCommitEvent.extend({ sha: sha40, context: z.string().max(1024) });

export class PayloadError extends Error {
  override readonly name = 'PayloadError';
}

export interface DeliveryMeta {
  event: string;
  deliveryId: string;
  receivedAt: Date;
}

/**
 * Turns a verified delivery into the job the worker consumes, or `null` when the worker does not act on it.
 * Throws {@link PayloadError} naming the offending field when a handled event lacks what the worker needs.
 */
export function trimWebhookPayload(meta: DeliveryMeta, payload: unknown): WebhookJob | null {
  const action = actionOf(payload);
  if (!isHandled(meta.event, action)) return null;
  if (!DELIVERY_ID.test(meta.deliveryId)) throw new PayloadError('invalid delivery id: must be a GUID');
  const event = meta.event as HandledEvent;
  const common = {
    deliveryId: meta.deliveryId,
    receivedAt: meta.receivedAt.toISOString(),
  };
  /** What a job of an event with actions begins with: the delivery, the event and its action (checked above). */
  const head = <E extends HandledEvent>(e: E) => ({ ...common, event: e, action: action as (typeof HANDLED_EVENTS)[E][number] });
  switch (event) {
    case 'pull_request': {
      const p = parse(ghPullRequestEvent, payload);
      const job: PullRequestJob = {
        ...head(event),
        ...pullRequestParts(p),
        label: p.label?.name ?? null,
        before: action === 'synchronize' ? (p.before ?? null) : null,
        sender: accountOf(p.sender),
      };
      return job;
    }
    case 'pull_request_review': {
      const p = parse(ghPullRequestReviewEvent, payload);
      const review = p.review;
      const job: PullRequestReviewJob = {
        ...head(event),
        ...pullRequestParts(p),
        review: {
          id: review.id,
          commitId: review.commit_id ?? null,
          state: review.state.toLowerCase(),
          user: review.user ? accountOf(review.user) : null,
        },
        sender: accountOf(p.sender),
      };
      return job;
    }
    case 'installation': {
      const p = parse(ghInstallationEvent, payload);
      const job: InstallationJob = { ...head(event), ...installationParts(p.installation), repositories: p.repositories?.map((r) => r.full_name) ?? null };
      return job;
    }
    case 'installation_repositories': {
      const p = parse(ghInstallationRepositoriesEvent, payload);
      const removed = { repositoriesRemoved: p.repositories_removed.map((r) => r.full_name), repositoryIdsRemoved: p.repositories_removed.map((r) => r.id) };
      const job: InstallationRepositoriesJob = { ...head(event), ...installationParts(p.installation), ...removed };
      return job;
    }
    case 'check_run':
    case 'check_suite':
    case 'workflow_run':
    case 'status':
      return commitCheckJob(event, common, payload);
  }
}

/** The installation, repository and whole pull request of a pull_request or pull_request_review delivery. */
function pullRequestParts(p: z.infer<typeof ghPullRequestCommon>): Pick<PullRequestJob, 'installationId' | 'repository' | 'pullRequest'> {
  const pr = p.pull_request;
  return {
    installationId: p.installation?.id ?? null,
    repository: repositoryOf(p.repository),
    pullRequest: {
      number: pr.number,
      title: pr.title,
      state: pr.state,
      draft: pr.draft ?? false,
      merged: pr.merged ?? false,
      headSha: pr.head.sha,
      headRef: pr.head.ref,
      headRepoFullName: pr.head.repo?.full_name ?? null,
      baseRepoFullName: pr.base.repo.full_name,
      baseSha: pr.base.sha,
      updatedAt: pr.updated_at,
      authorAssociation: pr.author_association,
      author: {
        id: pr.user.id,
        login: pr.user.login,
        avatarUrl: pr.user.avatar_url ?? null,
        email: pr.user.email ?? null,
      },
      labels: (pr.labels ?? []).map((l) => l.name),
    },
  };
}

function repositoryOf(r: z.infer<typeof ghRepository>): PullRequestJob['repository'] {
  return { id: r.id, fullName: r.full_name, name: r.name, ownerLogin: r.owner.login };
}

/** A sender or a reviewer: an account without a type is a user's. */
function accountOf(a: z.infer<typeof ghActor>): PullRequestJob['sender'] {
  return { id: a.id, login: a.login, type: a.type ?? 'User' };
}

/** An installation event's installation and the account it is on ('' when GitHub names none). */
function installationParts(installation: z.infer<typeof ghInstallation>): Pick<InstallationJob, 'installationId' | 'accountLogin'> {
  return { installationId: installation.id, accountLogin: installation.account?.login ?? '' };
}

/** A commit's check concluding: which repository and commit, and the check's name where the event has one. */
function commitCheckJob(event: CommitCheckJob['event'], common: { deliveryId: string; receivedAt: string }, payload: unknown): CommitCheckJob {
  let p: z.infer<typeof ghCommitEvent>;
  let sha: string;
  let name: string | null = null;
  if (event === 'check_run') {
    const run = parse(ghCheckRunEvent, payload);
    [p, sha, name] = [run, run.check_run.head_sha, run.check_run.name];
  } else if (event === 'check_suite') {
    const suite = parse(ghCheckSuiteEvent, payload);
    [p, sha] = [suite, suite.check_suite.head_sha];
  } else if (event === 'workflow_run') {
    const run = parse(ghWorkflowRunEvent, payload);
    [p, sha] = [run, run.workflow_run.head_sha];
  } else {
    const status = parse(ghStatusEvent, payload);
    [p, sha, name] = [status, status.sha, status.context];
  }
  return {
    ...common,
    event,
    action: event === 'status' ? null : 'completed',
    installationId: p.installation?.id ?? null,
    repository: repositoryOf(p.repository),
    sha,
    name,
  };
}

function actionOf(payload: unknown): string | undefined {
  if (payload !== null && typeof payload === 'object' && 'action' in payload) {
    const { action } = payload as { action: unknown };
    if (typeof action === 'string') return action;
  }
  return undefined;
}

function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path.length > 0 ? issue.path.join('.') : '(payload)';
    throw new PayloadError(`invalid payload: ${path}: ${issue.message}`);
  }
  return result.data;
}
