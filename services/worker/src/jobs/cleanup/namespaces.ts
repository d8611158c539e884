import { createDeployment, environmentKey, lockEnvironmentPullRequest, setPullRequestNote } from '@ephemera/db';
import { ACTIVE_DEPLOYMENT_STATUSES, CLEANUP_JOBS } from '@ephemera/schema';
import { isServed } from '../../environment-account.js';
import type { JobContext } from '../job-context.js';
import { sweepJob } from '../sweep-job.js';

/** `cleanup.namespaces`, every CLEANUP_INTERVAL_MS: see {@link reconcileNamespaces}. */
export const namespacesJob = sweepJob(CLEANUP_JOBS.namespaces, { id: 'cleanup-namespaces', every: (s) => s.CLEANUP_INTERVAL_MS }, reconcileNamespaces);

/**
 * Brings the cluster and the database together: namespaces of this installation whose environment does not
 * exist or is DESTROYED are deleted (a FAILED environment keeps its namespace for inspection until it is closed
 * or expires), and a READY environment whose namespace has vanished is deployed again.
 */
export async function reconcileNamespaces({ db, provisioner, followUps, logger, metrics, accounts }: JobContext): Promise<string> {
  const signal = AbortSignal.timeout(5 * 60_000);
  // READY ones are read before the cluster is listed: a namespace exists from before an environment is READY,
  // so one that is READY now and missing from the list has really vanished. Only those of the accounts served are
  // deployed again; orphans are deleted whoever's they were.
  const ready = (await db.environment.findMany({ where: { status: 'READY' }, select: { id: true, namespace: true, repositoryFullName: true } })).filter((e) =>
    isServed(accounts, e),
  );
  const owned = await provisioner.ownedNamespaces(signal);
  if (owned === null) return 'skipped: the provisioner makes no namespaces';
  // Environments are read after the list, so one created meanwhile is seen and its namespace kept.
  const ids = [...new Set(owned.map((o) => o.environmentId).filter((id): id is number => id !== null))];
  const envs = new Map((await db.environment.findMany({ where: { id: { in: ids } }, select: { id: true, namespace: true, status: true } })).map((e) => [e.id, e]));
  let orphans = 0;
  for (const ns of owned) {
    const env = ns.environmentId === null ? undefined : envs.get(ns.environmentId);
    const orphan = !env || env.status === 'DESTROYED' || env.namespace !== ns.namespace;
    if (!orphan || ns.terminating) continue;
    await provisioner.deleteNamespace(ns.namespace, signal);
    orphans++;
    metrics.orphanNamespacesDeleted.inc();
    logger.info({ namespace: ns.namespace, environment_id: ns.environmentId, environment_status: env?.status ?? null }, 'orphan namespace deleted');
  }

  const present = new Set(owned.filter((o) => !o.terminating).map((o) => o.namespace));
  let redeployed = 0;
  for (const env of ready.filter((e) => !present.has(e.namespace))) {
    const created = await db.$transaction(async (tx) => {
      await lockEnvironmentPullRequest(tx, env.id);
      const again = await tx.environment.findUniqueOrThrow({ where: { id: env.id } });
      if (again.status !== 'READY') return null;
      const active = await tx.deployment.count({ where: { environmentId: env.id, status: { in: [...ACTIVE_DEPLOYMENT_STATUSES] } } });
      if (active > 0) return null;
      await createDeployment(tx, { environmentId: env.id, commitSha: again.commitSha, commitMessage: 'namespace vanished; deployed again' });
      await setPullRequestNote(tx, environmentKey(again), 'The preview\'s namespace disappeared from the cluster, so it is being deployed again.');
      return again;
    });
    if (!created) continue;
    redeployed++;
    metrics.environmentsRedeployed.inc();
    logger.warn({ environment_id: env.id, namespace: env.namespace }, 'namespace of a READY environment vanished; deploying again');
    await followUps.after(environmentKey(created));
  }
  return `orphan namespaces deleted ${orphans}, environments redeployed ${redeployed}`;
}
