import { updateDeploymentStatus, updateEnvironmentStatus, type Prisma } from '@ephemera/db';
import { lockPullRequest } from '../pull-request-lock.js';
import type { Touched } from '../touched.js';

/**
 * Destroys every live environment matching `where` (an installation gone, repositories removed from it),
 * each under its PR's lock, with `note` for its comment.
 */
export async function destroyEnvironments(
  tx: Prisma.TransactionClient,
  where: Prisma.EnvironmentWhereInput,
  note: string,
): Promise<Touched[]> {
  const envs = await tx.environment.findMany({
    where: { ...where, status: { notIn: ['DESTROYING', 'DESTROYED'] } },
    select: { id: true, repositoryFullName: true, prNumber: true, installationId: true },
    orderBy: { id: 'asc' },
  });
  const touched: Touched[] = [];
  for (const env of envs) {
    await lockPullRequest(tx, env.repositoryFullName, env.prNumber);
    const active = await tx.deployment.findMany({
      where: { environmentId: env.id, status: { in: ['QUEUED', 'IN_PROGRESS'] } },
      select: { id: true },
    });
    for (const d of active) await updateDeploymentStatus(tx, d.id, 'FAILED', { errorMessage: note });
    const current = await tx.environment.findUniqueOrThrow({ where: { id: env.id }, select: { status: true } });
    if (current.status !== 'DESTROYING' && current.status !== 'DESTROYED') {
      await updateEnvironmentStatus(tx, env.id, 'DESTROYING');
    }
    touched.push({
      repositoryFullName: env.repositoryFullName,
      prNumber: env.prNumber,
      installationId: Number(env.installationId) || null,
      superseded: active.map((d) => d.id),
      note,
    });
  }
  return touched;
}
