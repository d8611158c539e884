import { claimDeployment, lockEnvironmentPullRequest, moveDeployment, readDeployment, updateEnvironmentStatus, type Environment, type PrismaClient } from '@ephemera/db';
import type { EnvironmentStatus } from '@ephemera/schema';

/** A deployment claimed for its step: the environment as it moved, the commit, and whether it is made or updated. */
export type ClaimedStep = { env: Environment; commitSha: string; restartedAt: Date | null; mode: 'provision' | 'update' };

/**
 * Claim: QUEUED (or WAITING, its gate open) → IN_PROGRESS, environment → PROVISIONING (first time) or UPDATING;
 * one statement when it applies, and otherwise a transaction that finds out why not. `resumable`: only the
 * deployment's own deploy job takes up one left IN_PROGRESS (its earlier run died), so that a look at its gate that
 * found it open while another job already deploys it does not deploy it twice.
 */
export async function claimStep(db: PrismaClient, ids: { environmentId: number; deploymentId: number }, resumable: boolean): Promise<ClaimedStep | { skip: string }> {
  const fast = await claimDeployment(db, ids.environmentId, ids.deploymentId);
  if (fast) {
    return { env: fast.environment, commitSha: fast.commitSha, restartedAt: fast.restartedAt, mode: fast.environment.status === 'PROVISIONING' ? 'provision' : 'update' };
  }
  return db.$transaction(async (tx): Promise<ClaimedStep | { skip: string }> => {
    const { environmentId, deploymentId } = ids;
    if (!(await lockEnvironmentPullRequest(tx, environmentId))) return { skip: 'environment gone' };
    const { environment: env, deployment: dep } = await readDeployment(tx, environmentId, deploymentId);
    if (!env || !dep || dep.status === 'SUCCESS' || dep.status === 'FAILED') return { skip: `deployment ${dep?.status ?? 'gone'}` };
    if (env.status === 'DESTROYING' || env.status === 'DESTROYED') {
      if (env.status === 'DESTROYED' || dep.status === 'IN_PROGRESS') {
        await moveDeployment(tx, { deploymentId, from: [dep.status], to: 'FAILED', errorMessage: 'environment is being destroyed' });
        return { skip: 'environment destroyed' };
      }
      // QUEUED while DESTROYING: a reopen; the destroy step brings the environment back when it is done.
      return { skip: 'waiting for destroy' };
    }
    // Waiting for room under MAX_ENVIRONMENTS_PER_REPO: started when another environment is destroyed.
    if (env.waitingSince !== null) return { skip: 'waiting for room in the repository' };
    if (dep.status === 'IN_PROGRESS' && !resumable) return { skip: 'already being deployed' };
    const mode = env.status === 'PENDING' || !env.lastDeployedAt ? 'provision' : 'update';
    const next: EnvironmentStatus = env.status === 'PROVISIONING' || env.status === 'UPDATING' ? env.status : mode === 'provision' ? 'PROVISIONING' : 'UPDATING';
    const envMove = next === env.status ? undefined : { id: env.id, from: [env.status], to: next };
    if (dep.status === 'QUEUED' || dep.status === 'WAITING') {
      await moveDeployment(tx, { deploymentId, from: [dep.status], to: 'IN_PROGRESS', ...(envMove ? { environment: envMove } : {}) });
    }
    // A deployment left IN_PROGRESS by a job that died is taken up again as it is.
    else if (envMove) await updateEnvironmentStatus(tx, env.id, next);
    const restarted = await tx.deployment.findFirst({ where: { environmentId, restart: true }, orderBy: { id: 'desc' }, select: { createdAt: true } });
    return { env: { ...env, status: next }, commitSha: dep.commitSha, restartedAt: restarted?.createdAt ?? null, mode: next === 'PROVISIONING' ? 'provision' : 'update' };
  });
}
