import { UnrecoverableError, type Job } from 'bullmq';
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
import { lockPullRequest } from '../pull-request-lock.js';

export interface FeedbackDeps {
  db: PrismaClient;
  github: GithubFeedback;
  logger: Logger;
}

const MARKER = '<!-- ephemera:preview -->';

/**
 * Tells the pull request what is happening: one comment edited in place, a commit status on the deployment's
 * commit, and a GitHub Deployment with its statuses. Reads the state when it runs, so late or repeated jobs
 * report the truth rather than history. Rate limits and 5xx are retried by the queue; other 4xx are logged
 * and dropped. Nothing here changes an environment's state.
 */
export function createFeedbackProcessor({ db, github, logger }: FeedbackDeps) {
  return async function processFeedback(job: Job): Promise<string> {
    const data = feedbackJobSchema.parse(job.data);
    if (data.installationId === null) return 'skipped: no installation (repository webhook)';
    const [owner, repo] = data.repositoryFullName.split('/') as [string, string];
    const ref: RepoRef = { installationId: data.installationId, owner, repo };
    try {
      const env = await getEnvironmentByPr(db, data.repositoryFullName, data.prNumber);
      const deployment = data.deploymentId ? await db.deployment.findUnique({ where: { id: data.deploymentId } }) : null;
      await upsertComment(db, github, ref, data.repositoryFullName, data.prNumber, env, data.note);
      if (deployment && env) await reportDeployment(db, github, ref, env, deployment);
      return 'reported';
    } catch (err) {
      if (isRetryableGithubError(err)) throw err;
      const status = (err as { status?: number }).status;
      logger.warn({ repository: data.repositoryFullName, pr: data.prNumber, status, err: (err as Error).message }, 'GitHub refused feedback; dropped');
      throw new UnrecoverableError(`GitHub answered ${status}: ${(err as Error).message}`);
    }
  };
}

async function upsertComment(
  db: PrismaClient,
  github: GithubFeedback,
  ref: RepoRef,
  repositoryFullName: string,
  prNumber: number,
  env: Environment | null,
  note: string | null,
) {
  // Under the PR's lock: two feedback jobs racing must not both create "the" comment.
  await db.$transaction(
    async (tx) => {
      await lockPullRequest(tx, repositoryFullName, prNumber);
      const state = await tx.pullRequestState.findUnique({
        where: { repositoryFullName_prNumber: { repositoryFullName, prNumber } },
      });
      const latest = env ? await tx.deployment.findFirst({ where: { environmentId: env.id }, orderBy: { id: 'desc' } }) : null;
      const body = renderComment(env, latest, state?.heldSha ?? null, note);
      const id = await github.upsertComment(ref, prNumber, state?.commentId ? Number(state.commentId) : null, body);
      if (id !== null && BigInt(id) !== state?.commentId) {
        await tx.pullRequestState.upsert({
          where: { repositoryFullName_prNumber: { repositoryFullName, prNumber } },
          create: { repositoryFullName, prNumber, commentId: BigInt(id) },
          update: { commentId: BigInt(id) },
        });
      }
    },
    { maxWait: 10_000, timeout: 30_000 },
  );
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
    // Under the PR's lock and re-read: two feedback jobs for one deployment must create one GitHub deployment.
    githubDeploymentId = await db.$transaction(
      async (tx) => {
        await lockPullRequest(tx, env.repositoryFullName, env.prNumber);
        const current = await tx.deployment.findUniqueOrThrow({ where: { id: dep.id }, select: { githubDeploymentId: true } });
        if (current.githubDeploymentId !== null) return Number(current.githubDeploymentId);
        const created = await github.createDeployment(ref, dep.commitSha, `preview/pr-${env.prNumber}`, `Ephemera preview of #${env.prNumber}`);
        if (created !== null) {
          await tx.deployment.update({ where: { id: dep.id }, data: { githubDeploymentId: BigInt(created) } });
        }
        return created;
      },
      { maxWait: 10_000, timeout: 30_000 },
    );
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
