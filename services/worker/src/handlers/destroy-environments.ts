import {
  environmentKey,
  lockEnvironmentPullRequest,
  setPullRequestNote,
  supersedeActiveDeployments,
  updateEnvironmentStatus,
  type Prisma,
} from '@ephemera/db';
import type { Touched } from '../touched.js';

/**
 * Destroys every live environment matching `where` (an installation gone, repositories removed from it),
 * each under its PR's lock, with `note` for its comment (and its active deployments' logs, kept to `logMaxBytes`).
 */
export async function destroyEnvironments(tx: Prisma.TransactionClient, where: Prisma.EnvironmentWhereInput, note: string, logMaxBytes: number | undefined): Promise<Touched[]> {
  const envs = await tx.environment.findMany({
    where: { ...where, status: { notIn: ['DESTROYING', 'DESTROYED'] } },
    select: { id: true },
    orderBy: { id: 'asc' },
  });
  const touched: Touched[] = [];
  for (const { id } of envs) {
    await lockEnvironmentPullRequest(tx, id);
    const env = await tx.environment.findUniqueOrThrow({ where: { id } });
    if (env.status === 'DESTROYING' || env.status === 'DESTROYED') continue;
    await supersedeActiveDeployments(tx, id, note, logMaxBytes);
    await updateEnvironmentStatus(tx, id, 'DESTROYING');
    await setPullRequestNote(tx, environmentKey(env), note);
    touched.push({ key: environmentKey(env), installationId: Number(env.installationId) || null });
  }
  return touched;
}
