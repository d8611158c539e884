import { createHash } from 'node:crypto';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import {
  readFeedbackState,
  recordFeedback,
  type Environment,
  type PrismaClient,
  type PullRequestKey,
  type ReportedDeployment,
} from '@ephemera/db';
import type { Logger } from '@ephemera/runtime';
import { FEEDBACK_JOB, QUEUES, feedbackJobSchema, repositoryAccount, type FeedbackJob } from '@ephemera/schema';
import {
  isRetryableGithubError,
  type CommitState,
  type DeploymentState,
  type GithubFeedback,
  type RepoRef,
} from '../github/github-feedback.js';
import { defineJob, type JobDefinition } from '../jobs/job-registry.js';
import { approvalWays, type PreviewSettings } from '../pull-request-reconciler.js';

export interface FeedbackDeps {
  db: PrismaClient;
  github: GithubFeedback;
  logger: Logger;
  /** PUBLIC_URL: the query service's public address; the comment then links the environment's page there. */
  publicUrl?: string | undefined;
  /** The approval label and FORK_APPROVAL: the comment names what approved a fork's commit. */
  settings?: Pick<PreviewSettings, 'approveLabel' | 'forkApproval'>;
}

const MARKER = '<!-- ephemera:preview -->';

/**
 * Tells the pull request what is happening: one comment edited in place (only when its text changes), a commit
 * status per deployment's commit, and a GitHub Deployment with its statuses. The job reads the state when it runs
 * and reports only what moved since the last report (each deployment keeps what was reported of it), so late or
 * repeated jobs report the truth rather than history, and a burst of steps ends in one report per commit. One job
 * per pull request runs at a time (the queue deduplicates them).
 *
 * No GitHub call runs inside a transaction or under a lock: the comment's and the GitHub deployment's ids are
 * recorded afterwards with compare-and-set writes, and a job that loses a race removes what it made. GitHub's
 * rate limits are waited out as long as GitHub says (the job is delayed, not failed, so nothing is dropped for
 * them); 5xx are retried by the queue; other 4xx are logged and dropped. Nothing here changes an environment's
 * state.
 */
export function feedbackJobs(deps: FeedbackDeps): JobDefinition[] {
  return [
    defineJob({
      queue: QUEUES.feedback,
      name: FEEDBACK_JOB,
      schema: feedbackJobSchema,
      // Feedback is the App writing to the account's repository: never for an account outside ALLOWED_ACCOUNTS.
      account: (data) => repositoryAccount(data.repositoryFullName),
      handle: (data, job, token) => report(deps, data, job, token),
    }),
  ];
}

async function report({ db, github, logger, publicUrl, settings }: FeedbackDeps, data: FeedbackJob, job: Job, token?: string): Promise<string> {
  if (data.installationId === null) return 'skipped: no installation (repository webhook)';
  const key: PullRequestKey = { repositoryId: data.repositoryId, repositoryFullName: data.repositoryFullName, prNumber: data.prNumber };
  try {
    const fs = await readFeedbackState(db, key);
    const env = fs.environment;
    // The repository as it is called now (a rename since the job was queued).
    const [owner, repo] = (env?.repositoryFullName ?? data.repositoryFullName).split('/') as [string, string];
    const ref: RepoRef = { installationId: data.installationId, owner, repo };
    // A pull request that never had a preview (a draft, one without PREVIEW_LABEL) gets no comment; one held
    // for approval does, to say what it waits for.
    const commented = env !== null || fs.state?.heldSha != null || fs.state?.commentId != null;
    const approvals = env?.fromFork ? approvalsOf(fs.state, settings, [env.commitSha, fs.servingSha]) : [];
    const body = renderComment(env, fs.latest, fs.state?.heldSha ?? null, fs.state?.note ?? null, publicUrl, fs.servingSha, approvals);
    const digest = commented ? await syncComment(db, github, ref, key, fs.state, body) : null;
    const reported = env ? await reportDeployments(db, github, ref, env, fs.toReport) : [];
    await recordFeedback(db, { stateId: fs.state?.id ?? null, commentDigest: digest, reported });
    return commented || reported.length > 0 ? 'reported' : 'skipped: no preview';
  } catch (err) {
    const wait = rateLimitWait(err);
    if (wait !== null && token) {
      logger.warn({ repository: data.repositoryFullName, pr: data.prNumber, wait_ms: wait }, 'GitHub rate limit; feedback waits as long as GitHub says');
      await job.moveToDelayed(Date.now() + wait, token);
      throw new DelayedError();
    }
    if (isRetryableGithubError(err) || err instanceof CommentBeingCreated) throw err;
    const status = (err as { status?: number }).status;
    logger.warn({ repository: data.repositoryFullName, pr: data.prNumber, status, err: (err as Error).message }, 'GitHub refused feedback; dropped');
    throw new UnrecoverableError(`GitHub answered ${status}: ${(err as Error).message}`);
  }
}

/**
 * How long GitHub asks to wait, for a primary or secondary rate limit (403 or 429 with `retry-after`, or
 * `x-ratelimit-remaining: 0` with `x-ratelimit-reset`); null for any other error.
 */
export function rateLimitWait(err: unknown, now = Date.now()): number | null {
  const e = err as { status?: number; message?: string; response?: { headers?: Record<string, string | undefined> } };
  if (e.status !== 403 && e.status !== 429) return null;
  const headers = e.response?.headers ?? {};
  const retryAfter = Number(headers['retry-after']);
  if (headers['retry-after'] !== undefined && Number.isFinite(retryAfter)) return Math.max(1_000, retryAfter * 1000);
  const reset = Number(headers['x-ratelimit-reset']);
  if (headers['x-ratelimit-remaining'] === '0' && Number.isFinite(reset)) return Math.max(1_000, reset * 1000 - now + 1_000);
  // A secondary limit without retry-after: GitHub asks for at least a minute.
  if (e.status === 429 || /secondary rate limit/i.test(e.message ?? '')) return 60_000;
  return null;
}

/** A claim to create the comment older than this is taken over (its job died between claiming and recording). */
const CLAIM_MS = 60_000;

/** Another job is creating the PR's comment (one that died holding the claim): this job is retried. */
class CommentBeingCreated extends Error {
  override readonly name = 'CommentBeingCreated';
}

type StateRow = { id: bigint; commentId: bigint | null; commentDigest: string | null } | null;

/**
 * Brings the pull request's one comment up to date, without holding a lock over GitHub calls; returns the digest of
 * what it wrote (null when it wrote nothing). An unchanged text is not sent again. When no id is recorded, the job
 * claims the creation (a short-lived claim in the database) and looks for the comment by its marker before creating
 * one, so a crash between creating it and recording it does not make a second.
 */
async function syncComment(db: PrismaClient, github: GithubFeedback, ref: RepoRef, key: PullRequestKey, state: StateRow, body: string): Promise<string | null> {
  const digest = createHash('sha256').update(body).digest('hex').slice(0, 32);
  if (!github.enabled) {
    // Feedback is off: what would be written is logged, and nothing is claimed or recorded.
    await github.createComment(ref, key.prNumber, body);
    return null;
  }
  if (state?.commentId != null) {
    if (state.commentDigest === digest) return null;
    if (await github.updateComment(ref, Number(state.commentId), body)) return digest;
    // Someone deleted it: a new one replaces it.
    await db.pullRequestState.updateMany({ where: { id: state.id, commentId: state.commentId }, data: { commentId: null, commentDigest: null } });
  }
  const created = await createComment(db, github, ref, key, state?.id ?? null, body);
  if (created === 'busy') throw new CommentBeingCreated(`the comment of ${key.repositoryFullName}#${key.prNumber} is being created by another job`);
  if (created === null) return null;
  // An existing comment (found by its marker, or recorded by another job meanwhile) still has its old text.
  if (!created.fresh) await github.updateComment(ref, created.id, body);
  return digest;
}

/**
 * Creates the PR's comment under a claim, or adopts the one its marker finds; returns its id and whether this job
 * wrote it (null: feedback off; `busy`: another job holds the claim).
 */
async function createComment(
  db: PrismaClient,
  github: GithubFeedback,
  ref: RepoRef,
  key: PullRequestKey,
  stateId: bigint | null,
  body: string,
): Promise<{ id: number; fresh: boolean } | null | 'busy'> {
  const now = new Date();
  let id = stateId;
  if (id === null) {
    // No state row yet (feedback before any event was applied): made with the claim in it.
    try {
      id = (
        await db.pullRequestState.create({
          data: { repositoryId: key.repositoryId === null ? null : BigInt(key.repositoryId), repositoryFullName: key.repositoryFullName, prNumber: key.prNumber, commentClaimedAt: now },
          select: { id: true },
        })
      ).id;
    } catch (err) {
      if ((err as { code?: string }).code === 'P2002') return 'busy';
      throw err;
    }
  } else {
    const { count } = await db.pullRequestState.updateMany({
      where: { id, commentId: null, OR: [{ commentClaimedAt: null }, { commentClaimedAt: { lt: new Date(now.getTime() - CLAIM_MS) } }] },
      data: { commentClaimedAt: now },
    });
    if (count === 0) {
      const state = await db.pullRequestState.findUnique({ where: { id }, select: { commentId: true } });
      return state?.commentId ? { id: Number(state.commentId), fresh: false } : 'busy';
    }
  }
  try {
    const found = await github.findComment(ref, key.prNumber, MARKER);
    const commentId = found ?? (await github.createComment(ref, key.prNumber, body));
    if (commentId === null) return null;
    await db.pullRequestState.updateMany({ where: { id, commentClaimedAt: now }, data: { commentId: BigInt(commentId), commentClaimedAt: null } });
    const recorded = await db.pullRequestState.findUniqueOrThrow({ where: { id }, select: { commentId: true } });
    const kept = recorded.commentId === null ? commentId : Number(recorded.commentId);
    return { id: kept, fresh: found === null && kept === commentId };
  } finally {
    // Whatever happened, this job's claim does not make others wait for it.
    await db.pullRequestState.updateMany({ where: { id, commentClaimedAt: now }, data: { commentClaimedAt: null } });
  }
}

/** The commit status and GitHub Deployment state a deployment should show now, as `<commit state>:<deployment state>`. */
function desiredReport(env: Environment, dep: ReportedDeployment) {
  const superseded = dep.status === 'FAILED' && (dep.errorMessage ?? '').startsWith('superseded');
  const closed = env.status === 'DESTROYING' || env.status === 'DESTROYED';
  const [commit, description]: [CommitState, string] =
    dep.status === 'SUCCESS'
      ? ['success', `Preview ready at ${env.environmentUrl ?? env.namespace}`]
      : dep.status === 'FAILED'
        ? [superseded || closed ? 'error' : 'failure', dep.errorMessage ?? 'deployment failed']
        : ['pending', dep.status === 'WAITING' ? waitingText(dep) : dep.status === 'QUEUED' ? 'Preview queued' : 'Preview deploying'];
  const deployment: DeploymentState =
    env.status === 'DESTROYED' || superseded
      ? 'inactive'
      : dep.status === 'SUCCESS'
        ? 'success'
        : dep.status === 'FAILED'
          ? 'failure'
          : dep.status === 'IN_PROGRESS'
            ? 'in_progress'
            : 'queued';
  // A pending status is sent again when its text changes (queued, then waiting for checks, then deploying).
  const digest = commit === 'pending' ? `:${createHash('sha256').update(description).digest('hex').slice(0, 8)}` : '';
  return { commit, deployment, description, superseded, closed, key: `${commit}:${deployment}${digest}` };
}

/** ``Waiting for `build`, `docker / push` on `abc1234` ``: what a deployment's gate waits for. */
function waitingText(dep: Pick<ReportedDeployment, 'gateWaitingFor' | 'commitSha'>): string {
  return `Waiting for ${dep.gateWaitingFor ?? 'checks'} on \`${dep.commitSha.slice(0, 7)}\``;
}

/**
 * Reports each deployment whose state moved since its last report, oldest first: the commit status when its commit
 * state changed, and the GitHub Deployment (created for deployments that were not superseded or closed first) when
 * its state changed. Returns what was reported, for recording.
 */
async function reportDeployments(
  db: PrismaClient,
  github: GithubFeedback,
  ref: RepoRef,
  env: Environment,
  toReport: ReportedDeployment[],
): Promise<Array<{ id: number; state: string }>> {
  const reported: Array<{ id: number; state: string }> = [];
  for (const dep of [...toReport].reverse()) {
    const want = desiredReport(env, dep);
    if (dep.reportedState === want.key) continue;
    const [reportedCommit, reportedDeployment, reportedText] = (dep.reportedState ?? ':').split(':');
    const wantText = want.key.split(':')[2];
    const url = dep.status === 'SUCCESS' ? env.environmentUrl : null;
    if (reportedCommit !== want.commit || reportedText !== wantText) await github.setCommitStatus(ref, dep.commitSha, want.commit, want.description, url);

    let githubDeploymentId = dep.githubDeploymentId ? Number(dep.githubDeploymentId) : null;
    if (githubDeploymentId === null && !want.superseded && !want.closed) {
      const created = await github.createDeployment(ref, dep.commitSha, `preview/pr-${env.prNumber}`, `Ephemera preview of #${env.prNumber}`);
      if (created !== null) {
        // Recorded only if no other job recorded one first; a duplicate is retired at once.
        const { count } = await db.deployment.updateMany({ where: { id: dep.id, githubDeploymentId: null }, data: { githubDeploymentId: BigInt(created) } });
        if (count === 0) {
          await github.setDeploymentStatus(ref, created, 'inactive', 'duplicate of another report of this deployment', null);
          const current = await db.deployment.findUniqueOrThrow({ where: { id: dep.id }, select: { githubDeploymentId: true } });
          githubDeploymentId = current.githubDeploymentId === null ? null : Number(current.githubDeploymentId);
        } else {
          githubDeploymentId = created;
        }
      }
    }
    if (githubDeploymentId !== null && reportedDeployment !== want.deployment) {
      await github.setDeploymentStatus(ref, githubDeploymentId, want.deployment, want.description, url);
    }
    reported.push({ id: dep.id, state: want.key });
  }
  return reported;
}

const STATUS_TEXT: Record<string, string> = {
  PENDING: '⏳ Pending',
  PROVISIONING: '🔧 Provisioning',
  READY: '✅ Ready',
  UPDATING: '🔄 Updating',
  DESTROYING: '🧹 Being removed',
  DESTROYED: '🗑️ Removed',
  FAILED: '❌ Failed',
};

type ApprovalState = { approvedSha: string | null; approvedBy: string | null; reviewApprovedSha: string | null; reviewApprovedBy: string | null } | null;

/**
 * What approved the fork's code the preview runs (or is deploying), one line each: the commit the approval label
 * approved (the head when it landed) and the commit an approving review was made on, with who approved it, as
 * FORK_APPROVAL counts them. An approval of another commit (one a maintainer's push has since built on) is not shown.
 */
function approvalsOf(state: ApprovalState, settings: FeedbackDeps['settings'], commits: Array<string | null>): string[] {
  if (!state) return [];
  const ways = approvalWays(settings ?? {});
  const by = (login: string | null) => (login ? ` by @${login}` : '');
  const lines: string[] = [];
  if (ways.label && state.approvedSha && commits.includes(state.approvedSha)) {
    lines.push(`\`${state.approvedSha.slice(0, 7)}\`${by(state.approvedBy)} (the \`${settings?.approveLabel ?? 'approval'}\` label)`);
  }
  if (ways.review && state.reviewApprovedSha && commits.includes(state.reviewApprovedSha)) {
    lines.push(`\`${state.reviewApprovedSha.slice(0, 7)}\`${by(state.reviewApprovedBy)} (a review of that commit)`);
  }
  return lines;
}

/** The one comment per pull request: status, URL, commit, last deployment, and the environment's page when PUBLIC_URL is set. */
function renderComment(
  env: Environment | null,
  latest: Pick<ReportedDeployment, 'id' | 'status' | 'commitSha' | 'errorMessage' | 'gateWaitingFor'> | null,
  heldSha: string | null,
  note: string | null,
  publicUrl?: string,
  servingSha: string | null = null,
  approvals: string[] = [],
): string {
  const lines = [MARKER, '### Ephemera preview', ''];
  if (!env) {
    lines.push(`**Status:** ⏸️ Waiting for approval${heldSha ? ` of \`${heldSha.slice(0, 7)}\`` : ''}`);
  } else {
    const waiting = env.status === 'PENDING' && env.waitingSince !== null;
    lines.push(`**Status:** ${waiting ? '⏳ Waiting for a place (this repository has as many previews as the installation allows)' : (STATUS_TEXT[env.status] ?? env.status)}`);
    if (env.environmentUrl && env.status !== 'DESTROYED') lines.push(`**URL:** ${env.environmentUrl}`);
    // A running preview serves its last successful deployment's commit, which a newer one waiting or refused is not.
    const shown = env.status === 'READY' && servingSha ? servingSha : env.commitSha;
    lines.push(`**Commit:** \`${shown.slice(0, 7)}\``);
    // A fork's code runs with a maintainer's approval: the comment names the commit approved, and how.
    for (const approval of approvals) lines.push(`**Approved:** ${approval}`);
    lines.push(`**Namespace:** \`${env.namespace}\``);
    if (env.lastDeployedAt) lines.push(`**Last deployed:** ${env.lastDeployedAt.toISOString()}`);
    if (latest) lines.push(`**Latest deployment:** #${latest.id} (${latest.status.toLowerCase()}, \`${latest.commitSha.slice(0, 7)}\`)`);
    if (publicUrl) lines.push(`**Environment page:** ${publicUrl.replace(/\/+$/, '')}/environments/${env.id}`);
    if (latest?.status === 'WAITING') lines.push('', `⏳ ${waitingText(latest)}`);
    if (env.status === 'FAILED' && env.errorMessage) lines.push('', fenced(env.errorMessage));
    // Logs stay behind the dashboard's access rules: the comment links to them, it never quotes them.
    if (publicUrl && latest?.status === 'FAILED' && (env.status === 'FAILED' || env.status === 'READY')) {
      lines.push(`**Deployment logs:** ${publicUrl.replace(/\/+$/, '')}/environments/${env.id}/deployments/${latest.id}`);
    }
    const refused = env.status === 'READY' && latest?.status === 'FAILED' && !(latest.errorMessage ?? '').startsWith('superseded');
    if (refused) {
      lines.push('', `⚠️ The latest commit \`${latest.commitSha.slice(0, 7)}\` was not deployed; the preview still serves \`${shown.slice(0, 7)}\`:`, fenced(latest.errorMessage ?? 'deployment failed'));
    }
    if (heldSha) lines.push('', `⏸️ \`${heldSha.slice(0, 7)}\` waits for approval.`);
  }
  if (note) lines.push('', note);
  return lines.join('\n');
}

/** Text shown as it is (error messages carry log lines and YAML): fenced longer than any backtick run inside. */
function fenced(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}text\n${text}\n${fence}`;
}
