import { createHash } from 'node:crypto';
import type { Environment, PrismaClient, ReportedDeployment } from '@ephemera/db';
import type { CommitState, DeploymentState, GithubFeedback, RepoRef } from '../github/github-feedback.js';
import { waitingText } from './render-comment.js';

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

/**
 * Reports each deployment whose state moved since its last report, oldest first: the commit status when its commit
 * state changed, and the GitHub Deployment (created for deployments that were not superseded or closed first) when
 * its state changed. Returns what was reported, for recording.
 */
export async function reportDeployments(
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

