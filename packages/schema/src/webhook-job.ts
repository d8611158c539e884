import { z } from 'zod';

/**
 * The GitHub events and actions the worker acts on: the one list that ingest filters by and the worker's
 * handler registry is checked against.
 */
export const HANDLED_EVENTS = {
  pull_request: [
    'opened',
    'reopened',
    'synchronize',
    'closed',
    'edited',
    'labeled',
    'unlabeled',
    'ready_for_review',
    'converted_to_draft',
  ],
  // A review approves a fork's commit (the one reviewed); dismissing it withdraws that. `edited` changes only the text.
  pull_request_review: ['submitted', 'dismissed'],
  installation: ['deleted', 'suspend', 'unsuspend'],
  installation_repositories: ['removed'],
  // A commit's checks concluding: deployments waiting for them (deploy.wait_for) look again.
  check_run: ['completed'],
  check_suite: ['completed'],
  workflow_run: ['completed'],
  /** A commit status event carries no action: its job is named `status`. */
  status: [],
} as const;

export type HandledEvent = keyof typeof HANDLED_EVENTS;

/** The events about a commit's checks, which open or fail a deploy gate. */
export const COMMIT_CHECK_EVENTS = ['check_run', 'check_suite', 'workflow_run', 'status'] as const satisfies readonly HandledEvent[];
export type CommitCheckEvent = (typeof COMMIT_CHECK_EVENTS)[number];

/** `pull_request.opened`, `installation.deleted`, `status`, …: the job name of a handled delivery. */
export type WebhookJobName = {
  [E in HandledEvent]: (typeof HANDLED_EVENTS)[E] extends readonly [] ? E : `${E}.${(typeof HANDLED_EVENTS)[E][number]}`;
}[HandledEvent];

/** The job names of commit check deliveries (`check_run.completed`, `status`, …). */
export type CommitCheckJobName = Extract<WebhookJobName, `${CommitCheckEvent}${string}`>;

export const WEBHOOK_JOB_NAMES: readonly WebhookJobName[] = (Object.keys(HANDLED_EVENTS) as HandledEvent[]).flatMap((event) => {
  const actions: readonly string[] = HANDLED_EVENTS[event];
  return (actions.length === 0 ? [event] : actions.map((action) => `${event}.${action}`)) as WebhookJobName[];
});

export function isHandled(event: string, action: string | undefined): boolean {
  const actions = (HANDLED_EVENTS as Record<string, readonly string[]>)[event];
  if (actions === undefined) return false;
  return actions.length === 0 ? action === undefined : action !== undefined && actions.includes(action);
}

/** GitHub sends a GUID in X-GitHub-Delivery; it becomes the BullMQ job id, so nothing else is accepted. */
export const DELIVERY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const githubId = z.number().int().positive();
const isoTime = z.iso.datetime({ offset: true });
const fullName = z.string().min(3).max(256).regex(/^[^/\s]+\/[^/\s]+$/, 'must be owner/name');

const repositoryRef = z.object({
  id: githubId,
  fullName,
  name: z.string().min(1).max(100),
  ownerLogin: z.string().min(1),
});

const base = {
  deliveryId: z.string().regex(DELIVERY_ID, 'must be a GUID'),
  /** When ingest accepted the delivery (ISO 8601). */
  receivedAt: isoTime,
  /** Null for a repository webhook (not a GitHub App installation): the worker reports it and cannot give feedback. */
  installationId: githubId.nullable(),
};

const sha40 = z.string().regex(/^[0-9a-f]{40}$/, 'must be a 40-character commit sha');

/** The whole pull request, as every pull_request and pull_request_review event carries it. */
const pullRequestSnapshot = z.object({
  number: z.number().int().positive(),
  title: z.string(),
  state: z.enum(['open', 'closed']),
  draft: z.boolean(),
  merged: z.boolean(),
  headSha: sha40,
  headRef: z.string().min(1),
  /** Null when the fork the PR came from was deleted. */
  headRepoFullName: fullName.nullable(),
  baseRepoFullName: fullName,
  /** The base branch's commit: a fork's preview configuration is read from it. Null in jobs queued before it was kept. */
  baseSha: sha40.nullable().default(null),
  updatedAt: isoTime,
  authorAssociation: z.string(),
  author: z.object({
    id: githubId,
    login: z.string().min(1),
    avatarUrl: z.string().nullable(),
    email: z.string().nullable(),
  }),
  labels: z.array(z.string()),
});

/** A GitHub account acting: `type` is `Bot` for apps (a bot never approves a fork). */
const account = z.object({ id: githubId, login: z.string(), type: z.string().default('User') });
/** Who caused the event. */
const sender = account;

/** The events whose jobs name their action. */
type EventWithActions = Exclude<HandledEvent, 'status' | CommitCheckEvent>;

/** What the job of a delivery of `event` starts with: the delivery, the event and its action. */
function eventJobFields<E extends EventWithActions>(event: E) {
  return { ...base, event: z.literal(event), action: z.enum(HANDLED_EVENTS[event]) };
}

const pullRequestJobSchema = z.object({
  ...eventJobFields('pull_request'),
  repository: repositoryRef,
  pullRequest: pullRequestSnapshot,
  /** The label added or removed (labeled / unlabeled only). */
  label: z.string().nullable(),
  /**
   * synchronize: the head commit before the push (a push vouches for the new head only when this one was trusted or
   * approved). Null for other actions, and in jobs queued before it was kept.
   */
  before: sha40.nullable().default(null),
  sender,
});
export type PullRequestJob = z.infer<typeof pullRequestJobSchema>;

const pullRequestReviewJobSchema = z.object({
  ...eventJobFields('pull_request_review'),
  repository: repositoryRef,
  /** The pull request as the review event shows it. */
  pullRequest: pullRequestSnapshot,
  review: z.object({
    id: githubId,
    /** The commit the reviewer saw: an approval covers this commit and nothing pushed after it. Null if GitHub names none. */
    commitId: sha40.nullable(),
    /** `approved`, `changes_requested`, `commented`, `dismissed` (lowercased). */
    state: z.string().max(64),
    /** The review's author; null when GitHub gives none (a deleted account). */
    user: account.nullable(),
  }),
  sender,
});
export type PullRequestReviewJob = z.infer<typeof pullRequestReviewJobSchema>;

/** A delivery about one pull request, carrying the whole pull request: its own events and its reviews. */
export type PullRequestEventJob = PullRequestJob | PullRequestReviewJob;

const installationJobSchema = z.object({
  ...eventJobFields('installation'),
  installationId: githubId,
  accountLogin: z.string(),
  /** The repositories GitHub lists with the event, when it lists them. */
  repositories: z.array(fullName).nullable(),
});
export type InstallationJob = z.infer<typeof installationJobSchema>;

const installationRepositoriesJobSchema = z.object({
  ...eventJobFields('installation_repositories'),
  installationId: githubId,
  /** The account the App is installed on ('' in jobs queued before it was kept). */
  accountLogin: z.string().default(''),
  repositoriesRemoved: z.array(fullName),
  /** GitHub's ids of the same repositories, in the same order (empty in jobs queued before they were kept). */
  repositoryIdsRemoved: z.array(githubId).default([]),
});
export type InstallationRepositoriesJob = z.infer<typeof installationRepositoriesJobSchema>;

const commitCheckJobSchema = z.object({
  ...base,
  event: z.enum(COMMIT_CHECK_EVENTS),
  /** `completed`; null for a commit status, whose event has no action. */
  action: z.literal('completed').nullable(),
  repository: repositoryRef,
  /** The commit the check ran on. */
  sha: sha40,
  /** A check run's name or a commit status's context; null for a check suite or a workflow run, which name no one check. */
  name: z.string().max(1024).nullable(),
});
export type CommitCheckJob = z.infer<typeof commitCheckJobSchema>;

/** What ingest enqueues and the worker consumes: only the fields the worker needs, never the whole payload. */
export const webhookJobSchema = z.discriminatedUnion('event', [
  pullRequestJobSchema,
  pullRequestReviewJobSchema,
  installationJobSchema,
  installationRepositoriesJobSchema,
  commitCheckJobSchema,
]);
export type WebhookJob = z.infer<typeof webhookJobSchema>;

export function webhookJobName(job: Pick<WebhookJob, 'event' | 'action'>): WebhookJobName {
  return (job.action === null ? job.event : `${job.event}.${job.action}`) as WebhookJobName;
}

export function isPullRequestEventJob(job: WebhookJob): job is PullRequestEventJob {
  return job.event === 'pull_request' || job.event === 'pull_request_review';
}

export function isCommitCheckJob(job: WebhookJob): job is CommitCheckJob {
  return (COMMIT_CHECK_EVENTS as readonly string[]).includes(job.event);
}


/**
 * The GitHub account a delivery belongs to, for ALLOWED_ACCOUNTS: the repository's owner for pull requests, the
 * installation's account for installation events.
 */
export function deliveryAccount(job: WebhookJob): string {
  return 'repository' in job ? job.repository.ownerLogin : job.accountLogin;
}
