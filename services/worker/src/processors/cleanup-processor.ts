import {
  createDeployment,
  listWaitingDeployments,
  environmentKey,
  findIdleEnvironments,
  lockEnvironmentPullRequest,
  pruneProcessedDeliveries,
  setPullRequestNote,
  supersedeActiveDeployments,
  updateEnvironmentStatus,
  type PrismaClient,
} from '@ephemera/db';
import type { Logger } from '@ephemera/runtime';
import type { Redis } from 'ioredis';
import { ACTIVE_DEPLOYMENT_STATUSES, CLEANUP_JOBS, QUEUES, cleanupJobSchema, repositoryAccount, type AccountAllowList } from '@ephemera/schema';
import { clearFinishedJob, deployJobId, destroyJobId, type FollowUps } from '../follow-ups.js';
import { defineJob, type JobDefinition } from '../jobs/job-registry.js';
import type { WorkerMetrics } from '../metrics.js';
import type { Provisioner } from '../provisioners/provisioner.js';
import type { WorkerQueues } from '../queues.js';
import { repositoriesWithWaiting, startWaiting } from '../repository-capacity.js';
import type { InstallationClients } from '../github/installation-clients.js';
import { redeliverLost } from '../github/redelivery.js';
import { resyncWithGithub } from '../github/resync.js';
import type { PreviewSettings } from '../pull-request-reconciler.js';

export interface CleanupDeps {
  db: PrismaClient;
  queues: WorkerQueues;
  followUps: FollowUps;
  logger: Logger;
  ttlHours: number;
  stuckAfterMinutes: number;
  provisioner: Provisioner;
  metrics: WorkerMetrics;
  /** MAX_ENVIRONMENTS_PER_REPO (0: no limit). */
  maxEnvironmentsPerRepo: number;
  /** The App's clients, for the passes that ask GitHub (redelivery, resync); absent without App credentials. */
  clients?: InstallationClients | undefined;
  settings: PreviewSettings;
  retention: { deliveryDays: number; destroyedDays: number };
  /**
   * ALLOWED_ACCOUNTS. The sweeps deploy, resume and look again only for environments of these accounts; removing
   * (idle, orphaned, a teardown retried) goes on for every account.
   */
  accounts: AccountAllowList;
  /** Redis, and QUEUE_PREFIX, under which ingest records the deliveries it settled without a job. */
  redis: Redis;
  prefix: string;
}

/** Whether an environment's repository belongs to an account of ALLOWED_ACCOUNTS. */
function allowed(accounts: AccountAllowList, env: { repositoryFullName: string }): boolean {
  return accounts.allows(repositoryAccount(env.repositoryFullName));
}

/**
 * The scheduled sweeps, one job each: idle environments are destroyed (with a comment on how to bring them back),
 * environments stuck mid-step get their step queued again (or are failed once stuck for twice the bound), the
 * cluster and the database are brought together, lost deliveries are asked for again, GitHub's state is
 * converged on, and old data is pruned.
 */
export function cleanupJobs(deps: CleanupDeps): JobDefinition[] {
  const sweeps: Record<(typeof CLEANUP_JOBS)[keyof typeof CLEANUP_JOBS], (d: CleanupDeps) => Promise<string>> = {
    [CLEANUP_JOBS.idle]: destroyIdle,
    [CLEANUP_JOBS.stuck]: mendStuck,
    [CLEANUP_JOBS.namespaces]: reconcileNamespaces,
    [CLEANUP_JOBS.redeliver]: (d) =>
      d.clients
        ? redeliverLost({
            db: d.db,
            clients: d.clients,
            webhooks: d.queues.webhooks,
            redis: d.redis,
            prefix: d.prefix,
            accounts: d.accounts,
            logger: d.logger,
            requested: d.metrics.redeliveriesRequested,
          })
        : Promise.resolve('skipped: no App credentials'),
    [CLEANUP_JOBS.resync]: (d) =>
      d.clients
        ? resyncWithGithub({
            db: d.db,
            clients: d.clients,
            settings: d.settings,
            followUps: d.followUps,
            accounts: d.accounts,
            logger: d.logger,
            corrections: d.metrics.resyncCorrections,
          })
        : Promise.resolve('skipped: no App credentials'),
    [CLEANUP_JOBS.prune]: pruneData,
    [CLEANUP_JOBS.gates]: pollGates,
  };
  return Object.entries(sweeps).map(([name, sweep]) =>
    // The sweeps act for no one account: each applies ALLOWED_ACCOUNTS to what it finds.
    defineJob({ queue: QUEUES.cleanup, name, schema: cleanupJobSchema, account: null, handle: () => sweep(deps) }),
  );
}

/**
 * Keeps the data bounded: delivery ids older than DELIVERY_RETENTION_DAYS (with their redelivery counts) and
 * environments destroyed longer ago than DESTROYED_RETENTION_DAYS (with their deployments) are deleted, in
 * batches so no statement holds many rows at once.
 */
export async function pruneData({ db, logger, retention }: CleanupDeps): Promise<string> {
  const deliveriesBefore = new Date(Date.now() - retention.deliveryDays * 86_400_000);
  const deliveries = await pruneProcessedDeliveries(db, deliveriesBefore);
  await db.redeliveryRequest.deleteMany({ where: { lastRequestedAt: { lt: deliveriesBefore } } });
  let environments = 0;
  if (retention.destroyedDays > 0) {
    const destroyedBefore = new Date(Date.now() - retention.destroyedDays * 86_400_000);
    for (;;) {
      const batch = await db.environment.findMany({ where: { status: 'DESTROYED', destroyedAt: { lt: destroyedBefore } }, select: { id: true }, take: 500 });
      if (batch.length === 0) break;
      // Deployments go with them (ON DELETE CASCADE); the status is checked again in the delete itself.
      const { count } = await db.environment.deleteMany({ where: { id: { in: batch.map((b) => b.id) }, status: 'DESTROYED' } });
      environments += count;
      if (batch.length < 500) break;
    }
  }
  if (deliveries + environments > 0) logger.info({ deliveries, environments }, 'old data pruned');
  return `pruned ${deliveries} delivery ids, ${environments} destroyed environments`;
}

/**
 * Every deployment waiting for its commit's checks gets a look at its gate (the deploy step, deduplicated per
 * deployment), so a check event GitHub never delivered delays a deploy by at most one interval.
 */
export async function pollGates({ db, followUps, metrics, accounts }: CleanupDeps): Promise<string> {
  let waiting = await listWaitingDeployments(db);
  if (!accounts.any) {
    const ids = [...new Set(waiting.map((d) => d.environmentId))];
    const envs = await db.environment.findMany({ where: { id: { in: ids } }, select: { id: true, repositoryFullName: true } });
    const served = new Set(envs.filter((e) => allowed(accounts, e)).map((e) => e.id));
    waiting = waiting.filter((d) => served.has(d.environmentId));
  }
  for (const d of waiting) await followUps.gateCheck({ environmentId: d.environmentId, deploymentId: d.id });
  metrics.gatePolls.inc(waiting.length);
  return `looked again at ${waiting.length} waiting deployment(s)`;
}

export async function destroyIdle({ db, followUps, logger, ttlHours }: CleanupDeps): Promise<string> {
  const cutoff = new Date(Date.now() - ttlHours * 3600_000);
  const note = `This preview had no push for ${ttlHours} hours and was removed to free resources. Push a commit or reopen the pull request to bring it back.`;
  let destroyed = 0;
  for (const id of await findIdleEnvironments(db, cutoff)) {
    const moved = await db.$transaction(async (tx) => {
      await lockEnvironmentPullRequest(tx, id);
      const current = await tx.environment.findUniqueOrThrow({ where: { id } });
      if (current.status !== 'READY' && current.status !== 'FAILED') return null;
      await updateEnvironmentStatus(tx, id, 'DESTROYING');
      await setPullRequestNote(tx, environmentKey(current), note);
      return current;
    });
    if (!moved) continue;
    destroyed++;
    await followUps.after(environmentKey(moved));
  }
  if (destroyed > 0) logger.info({ destroyed, ttl_hours: ttlHours }, 'idle environments destroyed');
  return `destroyed ${destroyed} idle environment(s)`;
}

export async function mendStuck(deps: CleanupDeps): Promise<string> {
  const { db, queues, followUps, logger, stuckAfterMinutes, accounts } = deps;
  const bound = new Date(Date.now() - stuckAfterMinutes * 60_000);
  const giveUp = new Date(Date.now() - 2 * stuckAfterMinutes * 60_000);
  const found = await db.environment.findMany({
    // An environment waiting for room in its repository is not stuck.
    where: { status: { in: ['PENDING', 'PROVISIONING', 'UPDATING', 'DESTROYING'] }, updatedAt: { lt: bound }, waitingSince: null },
    take: 500,
  });
  // A teardown is finished whoever's the environment; anything else only for the accounts served.
  const stuck = found.filter((env) => env.status === 'DESTROYING' || allowed(accounts, env));
  let retried = 0;
  let failed = 0;
  for (const env of stuck) {
    if (env.updatedAt < giveUp && env.status !== 'PENDING') {
      const reason = `stuck in ${env.status} for more than ${2 * stuckAfterMinutes} minutes`;
      const moved = await db.$transaction(async (tx) => {
        await lockEnvironmentPullRequest(tx, env.id);
        const current = await tx.environment.findUniqueOrThrow({ where: { id: env.id } });
        if (current.status !== env.status) return false;
        await supersedeActiveDeployments(tx, env.id, reason, deps.settings.logMaxBytes);
        await updateEnvironmentStatus(tx, env.id, 'FAILED', { errorMessage: reason });
        return true;
      });
      if (moved) {
        failed++;
        await followUps.after(environmentKey(env));
      }
      continue;
    }
    // Queue the step again. A finished job under the same id would make the add a no-op: remove it first.
    const latest = await db.deployment.findFirst({ where: { environmentId: env.id }, orderBy: { id: 'desc' } });
    // Waiting for its commit's checks is not stuck: its deadline and the poll look after it.
    if (env.status !== 'DESTROYING' && latest?.status === 'WAITING') continue;
    const jobId = env.status === 'DESTROYING' ? destroyJobId(env.id, latest?.id ?? null) : latest ? deployJobId(latest.id) : null;
    if (jobId && !(await clearFinishedJob(queues.provisioning, jobId))) continue;
    retried++;
    if (env.status === 'DESTROYING') await followUps.destroy({ environmentId: env.id, deploymentId: latest?.id ?? null });
    // The deploy step picks up a deployment left IN_PROGRESS by a job that is gone, as well as a QUEUED one.
    else if (latest && (latest.status === 'QUEUED' || latest.status === 'IN_PROGRESS')) {
      await followUps.deploy({ environmentId: env.id, deploymentId: latest.id });
    }
  }
  const destroys = await retryFailedDestroys(deps);
  let started = 0;
  for (const repo of (await repositoriesWithWaiting(db)).filter((r) => allowed(accounts, r))) {
    for (const pr of await startWaiting(db, repo, deps.maxEnvironmentsPerRepo)) {
      started++;
      await followUps.afterWaiting(environmentKey(pr));
    }
  }
  if (retried + failed + destroys + started > 0) logger.warn({ retried, failed, destroys, started }, 'stuck environments handled');
  return `retried ${retried}, failed ${failed}, destroys retried ${destroys}, waiting started ${started}`;
}

/** A teardown that failed (a namespace stuck Terminating past DESTROY_TIMEOUT_SECONDS) is asked for again. */
async function retryFailedDestroys(deps: CleanupDeps): Promise<number> {
  const { db, followUps } = deps;
  const failed = await db.environment.findMany({
    where: { status: 'FAILED', destroyRequestedAt: { not: null } },
    select: { id: true, repositoryId: true, repositoryFullName: true, prNumber: true },
    take: 500,
  });
  let n = 0;
  for (const env of failed) {
    const moved = await db.$transaction(async (tx) => {
      await lockEnvironmentPullRequest(tx, env.id);
      const current = await tx.environment.findUniqueOrThrow({ where: { id: env.id }, select: { status: true, destroyRequestedAt: true } });
      if (current.status !== 'FAILED' || current.destroyRequestedAt === null) return false;
      await updateEnvironmentStatus(tx, env.id, 'DESTROYING');
      return true;
    });
    if (moved) {
      n++;
      // The failed destroy job keeps its id: it is removed so the destroy can be queued again under it.
      const latest = await db.deployment.findFirst({ where: { environmentId: env.id }, orderBy: { id: 'desc' }, select: { id: true } });
      await clearFinishedJob(deps.queues.provisioning, destroyJobId(env.id, latest?.id ?? null));
      await followUps.after(environmentKey(env));
    }
  }
  return n;
}


/**
 * Brings the cluster and the database together: namespaces of this installation whose environment does not
 * exist or is DESTROYED are deleted (a FAILED environment keeps its namespace for inspection until it is closed
 * or expires), and a READY environment whose namespace has vanished is deployed again.
 */
export async function reconcileNamespaces({ db, provisioner, followUps, logger, metrics, accounts }: CleanupDeps): Promise<string> {
  const signal = AbortSignal.timeout(5 * 60_000);
  // READY ones are read before the cluster is listed: a namespace exists from before an environment is READY,
  // so one that is READY now and missing from the list has really vanished. Only those of the accounts served are
  // deployed again; orphans are deleted whoever's they were.
  const ready = (await db.environment.findMany({ where: { status: 'READY' }, select: { id: true, namespace: true, repositoryFullName: true } })).filter((e) =>
    allowed(accounts, e),
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
