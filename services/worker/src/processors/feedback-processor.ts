import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { getEnvironmentByPr, type Deployment, type Environment, type PrismaClient } from '@ephemera/db';
import type { Logger } from '@ephemera/runtime';
import { feedbackJobSchema } from '@ephemera/schema';
import {
  isRetryableGithubError,
  type CommitState,
  type DeploymentState,
  type GithubFeedback,
  type RepoRef,
} from '../github/github-feedback.js';

export interface FeedbackDeps {
  db: PrismaClient;
  github: GithubFeedback;
  logger: Logger;
}

const MARKER = '<!-- ephemera:preview -->';

/**
 * Tells the pull request what is happening: one comment edited in place, a commit status on the deployment's
 * commit, and a GitHub Deployment with its statuses. Reads the state when it runs, so late or repeated jobs
 * report the truth rather than history.
 *
 * No GitHub call runs inside a transaction or under a lock: the comment's and the GitHub deployment's ids are
 * recorded afterwards with compare-and-set writes, and a job that loses a race removes what it made. GitHub's
 * rate limits are waited out as long as GitHub says (the job is delayed, not failed, so nothing is dropped for
 * them); 5xx are retried by the queue; other 4xx are logged and dropped. Nothing here changes an environment's
 * state.
 */
export function createFeedbackProcessor({ db, github, logger }: FeedbackDeps) {
  return async function processFeedback(job: Job, token?: string): Promise<string> {
    const data = feedbackJobSchema.parse(job.data);
    if (data.installationId === null) return 'skipped: no installation (repository webhook)';
    const [owner, repo] = data.repositoryFullName.split('/') as [string, string];
    const ref: RepoRef = { installationId: data.installationId, owner, repo };
    try {
      const [env, state] = await Promise.all([
        getEnvironmentByPr(db, data.repositoryFullName, data.prNumber),
        db.pullRequestState.findUnique({ where: { repositoryFullName_prNumber: { repositoryFullName: data.repositoryFullName, prNumber: data.prNumber } } }),
      ]);
      // A pull request that never had a preview (a draft, one without PREVIEW_LABEL) gets no comment; one held
      // for approval does, to say what it waits for.
      const commented = env !== null || state?.heldSha != null || state?.commentId != null;
      if (commented) await syncComment(db, github, ref, data.repositoryFullName, data.prNumber, data.note, state?.commentId ? Number(state.commentId) : null);
      const deployment = data.deploymentId && env ? await db.deployment.findUnique({ where: { id: data.deploymentId } }) : null;
      if (deployment && env) await reportDeployment(db, github, ref, env, deployment);
      return commented || deployment ? 'reported' : 'skipped: no preview';
    } catch (err) {
      const wait = rateLimitWait(err);
      if (wait !== null && token) {
        logger.warn({ repository: data.repositoryFullName, pr: data.prNumber, wait_ms: wait }, 'GitHub rate limit; feedback waits as long as GitHub says');
        await job.moveToDelayed(Date.now() + wait, token);
        throw new DelayedError();
      }
      if (isRetryableGithubError(err)) throw err;
      const status = (err as { status?: number }).status;
      logger.warn({ repository: data.repositoryFullName, pr: data.prNumber, status, err: (err as Error).message }, 'GitHub refused feedback; dropped');
      throw new UnrecoverableError(`GitHub answered ${status}: ${(err as Error).message}`);
    }
  };
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

/** The comment as the state is now. */
async function renderCurrent(db: PrismaClient, repositoryFullName: string, prNumber: number, note: string | null): Promise<string> {
  const [env, state] = await Promise.all([
    getEnvironmentByPr(db, repositoryFullName, prNumber),
    db.pullRequestState.findUnique({ where: { repositoryFullName_prNumber: { repositoryFullName, prNumber } } }),
  ]);
  const latest = env ? await db.deployment.findFirst({ where: { environmentId: env.id }, orderBy: { id: 'desc' } }) : null;
  return renderComment(env, latest, state?.heldSha ?? null, note);
}

/** A claim to create the comment older than this is taken over (its job died between claiming and recording). */
const CLAIM_MS = 60_000;

/** Another feedback job is creating the PR's comment: this job is retried once its id is recorded. */
export class CommentBeingCreated extends Error {
  override readonly name = 'CommentBeingCreated';
}

/**
 * Brings the pull request's one comment up to date without holding a lock over GitHub calls. When no id is
 * recorded, one job claims the creation (a short-lived claim in the database) and looks for the comment by its
 * marker before creating one (a crash between creating it and recording it must not make a second); the others
 * leave it to that job, which renders the state again after it has written, so two comments are never created. After writing, the state is read
 * again and written once more if it moved meanwhile, so the last writer leaves the current state even when writes
 * arrive out of order.
 */
async function syncComment(
  db: PrismaClient,
  github: GithubFeedback,
  ref: RepoRef,
  repositoryFullName: string,
  prNumber: number,
  note: string | null,
  /** The comment's id as the job read it with the PR's state. */
  recorded: number | null,
) {
  const key = { repositoryFullName, prNumber };
  let commentId = recorded;
  for (let round = 0; round < 3; round++) {
    const body = await renderCurrent(db, repositoryFullName, prNumber, note);
    if (commentId !== null && !(await github.updateComment(ref, commentId, body))) {
      // Someone deleted it: a new one replaces it.
      await db.pullRequestState.updateMany({ where: { ...key, commentId: BigInt(commentId) }, data: { commentId: null } });
      commentId = null;
    }
    if (commentId === null) {
      const created = await createComment(db, github, ref, key, body);
      if (created === 'busy') {
        // Another job is creating it and renders the state again once it has; only a note of this job's own
        // would be missing, so then this job is retried when the id is there.
        if (note) throw new CommentBeingCreated(`the comment of ${repositoryFullName}#${prNumber} is being created by another job`);
        return;
      }
      if (created === null) return; // feedback is off: nothing to record
      commentId = created;
    }
    if ((await renderCurrent(db, repositoryFullName, prNumber, note)) === body) return;
  }
}

/**
 * Creates the PR's comment under a claim, or adopts the one its marker finds; returns its id (null: feedback
 * off; `busy`: another job holds the claim).
 */
async function createComment(
  db: PrismaClient,
  github: GithubFeedback,
  ref: RepoRef,
  key: { repositoryFullName: string; prNumber: number },
  body: string,
): Promise<number | null | 'busy'> {
  const now = new Date();
  const { count } = await db.pullRequestState.updateMany({
    where: { ...key, commentId: null, OR: [{ commentClaimedAt: null }, { commentClaimedAt: { lt: new Date(now.getTime() - CLAIM_MS) } }] },
    data: { commentClaimedAt: now },
  });
  if (count === 0) {
    const state = await db.pullRequestState.findUnique({ where: { repositoryFullName_prNumber: key } });
    if (state?.commentId) return Number(state.commentId);
    if (state) return 'busy';
    // No state row yet (feedback before any event was applied): made with the claim in it.
    try {
      await db.pullRequestState.create({ data: { ...key, commentClaimedAt: now } });
    } catch (err) {
      if ((err as { code?: string }).code === 'P2002') return 'busy';
      throw err;
    }
  }
  try {
    const id = (await github.findComment(ref, key.prNumber, MARKER)) ?? (await github.createComment(ref, key.prNumber, body));
    if (id === null) return null;
    await db.pullRequestState.updateMany({ where: { ...key, commentClaimedAt: now }, data: { commentId: BigInt(id), commentClaimedAt: null } });
    const recorded = await db.pullRequestState.findUniqueOrThrow({ where: { repositoryFullName_prNumber: key }, select: { commentId: true } });
    return recorded.commentId === null ? id : Number(recorded.commentId);
  } finally {
    // Whatever happened, this job's claim does not make others wait for it.
    await db.pullRequestState.updateMany({ where: { ...key, commentClaimedAt: now }, data: { commentClaimedAt: null } });
  }
}

async function reportDeployment(db: PrismaClient, github: GithubFeedback, ref: RepoRef, env: Environment, dep: Deployment) {
  const superseded = dep.status === 'FAILED' && (dep.errorMessage ?? '').startsWith('superseded');
  const closed = env.status === 'DESTROYING' || env.status === 'DESTROYED';
  const [commitState, description]: [CommitState, string] =
    dep.status === 'SUCCESS'
      ? ['success', `Preview ready at ${env.environmentUrl ?? env.namespace}`]
      : dep.status === 'FAILED'
        ? [superseded || closed ? 'error' : 'failure', dep.errorMessage ?? 'deployment failed']
        : ['pending', dep.status === 'QUEUED' ? 'Preview queued' : 'Preview deploying'];
  await github.setCommitStatus(ref, dep.commitSha, commitState, description, dep.status === 'SUCCESS' ? env.environmentUrl : null);

  let githubDeploymentId = dep.githubDeploymentId ? Number(dep.githubDeploymentId) : null;
  if (githubDeploymentId === null && !superseded && !closed) {
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
  if (githubDeploymentId === null) return;
  const state: DeploymentState =
    env.status === 'DESTROYED' || superseded
      ? 'inactive'
      : dep.status === 'SUCCESS'
        ? 'success'
        : dep.status === 'FAILED'
          ? 'failure'
          : dep.status === 'IN_PROGRESS'
            ? 'in_progress'
            : 'queued';
  await github.setDeploymentStatus(ref, githubDeploymentId, state, description, dep.status === 'SUCCESS' ? env.environmentUrl : null);
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

/** The one comment per pull request: status, URL, commit, last deployment. */
export function renderComment(env: Environment | null, latest: Deployment | null, heldSha: string | null, note: string | null): string {
  const lines = [MARKER, '### Ephemera preview', ''];
  if (!env) {
    lines.push(`**Status:** ⏸️ Waiting for approval${heldSha ? ` of \`${heldSha.slice(0, 7)}\`` : ''}`);
  } else {
    const waiting = env.status === 'PENDING' && env.waitingSince !== null;
    lines.push(`**Status:** ${waiting ? '⏳ Waiting for a place (this repository has as many previews as the installation allows)' : (STATUS_TEXT[env.status] ?? env.status)}`);
    if (env.environmentUrl && env.status !== 'DESTROYED') lines.push(`**URL:** ${env.environmentUrl}`);
    lines.push(`**Commit:** \`${env.commitSha.slice(0, 7)}\``);
    lines.push(`**Namespace:** \`${env.namespace}\``);
    if (env.lastDeployedAt) lines.push(`**Last deployed:** ${env.lastDeployedAt.toISOString()}`);
    if (latest) lines.push(`**Latest deployment:** #${latest.id} (${latest.status.toLowerCase()}, \`${latest.commitSha.slice(0, 7)}\`)`);
    if (env.status === 'FAILED' && env.errorMessage) lines.push('', fenced(env.errorMessage));
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
