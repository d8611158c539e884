import { repositoryWhere, type Prisma, type PrismaClient } from '@ephemera/db';
import type { Logger } from '@ephemera/runtime';
import type { AccountAllowList } from '@ephemera/schema';
import type { Counter } from 'prom-client';
import type { FollowUps } from '../follow-ups.js';
import { destroyEnvironments } from '../handlers/destroy-environments.js';
import { NO_FACTS } from '../handlers/handler.js';
import { reconcilePullRequest, type PreviewSettings } from '../pull-request-reconciler.js';
import type { Touched } from '../touched.js';
import { installationAccount } from './installation-account.js';
import type { InstallationClients } from './installation-clients.js';
import { pullRequestJobFromGithub, type GithubPullRequest as PullRequest, type GithubRepository as Repository } from './pull-request-snapshot.js';

export interface ResyncDeps {
  db: PrismaClient;
  clients: InstallationClients;
  settings: PreviewSettings;
  followUps: FollowUps;
  /** ALLOWED_ACCOUNTS: installations of other accounts are not looked into. */
  accounts: AccountAllowList;
  logger: Logger;
  corrections: Counter<'kind'>;
}

const NOTES = {
  deleted: 'The Ephemera GitHub App was uninstalled, so this preview was removed.',
  suspended: 'The Ephemera GitHub App was suspended for this account, so this preview was removed. Push a commit after unsuspending to bring it back.',
};

/**
 * Converges on GitHub's state whatever deliveries were lost. For every installation and every repository it
 * reaches, the open pull requests are listed (conditionally: an unchanged list answers 304 and costs no rate
 * limit) and each goes through the same reconciliation as a webhook's snapshot, with GitHub's `updated_at`, so
 * every rule (labels, drafts, forks awaiting approval) applies unchanged: an open PR newer than what was applied is
 * applied; a live environment whose PR is no longer open is torn down as a `closed` event would. Installations
 * GitHub no longer lists, or lists as suspended, lose their previews as on `installation.deleted` / `suspend`.
 *
 * Installations of accounts outside ALLOWED_ACCOUNTS are skipped: nothing of theirs is listed or applied (whoever
 * installs a public App gets nothing from it).
 *
 * GitHub is asked outside any transaction; each correction is its own transaction under the PR's lock.
 */
export async function resyncWithGithub(deps: ResyncDeps): Promise<string> {
  const { clients, logger } = deps;
  const app = clients.app();
  const installations = await app.paginate(app.rest.apps.listInstallations, { per_page: 100 });
  const installationsGone = await removeGoneInstallations(deps, new Map(installations.map((i) => [i.id, i] as const)));
  const served = installations.filter((i) => deps.accounts.allows(installationAccount(i)));
  if (served.length < installations.length) {
    const others = installations.filter((i) => !served.includes(i)).map(installationAccount);
    logger.info({ installations: others.length, accounts: others.slice(0, 20) }, 'resync: installations of accounts outside ALLOWED_ACCOUNTS skipped');
  }
  const counts = { applied: 0, destroyed: 0 };
  for (const installation of served) {
    if (installation.suspended_at) continue;
    const octokit = clients.for(installation.id);
    const repositories = (await octokit.paginate(octokit.rest.apps.listReposAccessibleToInstallation, { per_page: 100 })) as Repository[];
    for (const repository of repositories) await resyncRepository(deps, installation.id, repository, counts);
  }
  const { applied, destroyed } = counts;
  if (applied + destroyed + installationsGone > 0) logger.warn({ applied, destroyed, installations: installationsGone }, 'resync corrected what deliveries missed');
  return `resync: applied ${applied}, destroyed ${destroyed}, installations ${installationsGone}`;
}

type Installation = { id: number; suspended_at?: string | null };

/** Installations with previews that GitHub no longer lists, or lists as suspended, lose them; how many did. */
async function removeGoneInstallations(deps: ResyncDeps, listed: ReadonlyMap<number, Installation>): Promise<number> {
  const { db, logger, corrections } = deps;
  const app = deps.clients.app();
  const known = await db.environment.findMany({
    where: { status: { notIn: ['DESTROYING', 'DESTROYED'] }, installationId: { gt: 0 } },
    distinct: ['installationId'],
    select: { installationId: true },
  });
  let installationsGone = 0;
  for (const { installationId } of known) {
    const id = Number(installationId);
    const entry = listed.get(id);
    let gone: 'deleted' | 'suspended' | null = entry?.suspended_at ? 'suspended' : null;
    if (!entry) {
      try {
        const { data } = await app.rest.apps.getInstallation({ installation_id: id });
        gone = data.suspended_at ? 'suspended' : null;
      } catch (err) {
        if ((err as { status?: number }).status !== 404) throw err;
        gone = 'deleted';
      }
    }
    if (!gone) continue;
    const touched = await db.$transaction((tx) => destroyEnvironments(tx, { installationId }, NOTES[gone], deps.settings.logMaxBytes), { maxWait: 10_000, timeout: 30_000 });
    if (touched.length > 0) {
      installationsGone++;
      corrections.inc({ kind: 'installation' }, touched.length);
      logger.warn({ installation_id: id, github_says: gone, environments: touched.length }, 'resync: installation gone; previews removed');
      await deps.followUps.ensure(touched);
    }
  }
  return installationsGone;
}

/**
 * One repository: its open pull requests GitHub shows newer than what was applied (or never applied) are applied,
 * and its live environments whose pull request is no longer open get GitHub's own record of it.
 */
async function resyncRepository(deps: ResyncDeps, installationId: number, repository: Repository, counts: { applied: number; destroyed: number }): Promise<void> {
  const { db, corrections } = deps;
  const open = await openPullRequests(deps, installationId, repository);
  if (open === null) return; // unchanged since the last pass
  const byNumber = new Map(open.map((pr) => [pr.number, pr] as const));
  // By GitHub's id, and by name (in any case) for rows from before ids were kept.
  const ofRepository = repositoryWhere({ repositoryId: repository.id, repositoryFullName: repository.full_name });
  const [states, live] = await Promise.all([
    db.pullRequestState.findMany({ where: ofRepository, select: { prNumber: true, lastEventAt: true } }),
    db.environment.findMany({
      where: { ...ofRepository, status: { notIn: ['DESTROYING', 'DESTROYED'] } } satisfies Prisma.EnvironmentWhereInput,
      select: { prNumber: true },
    }),
  ]);
  const appliedAt = new Map(states.map((s) => [s.prNumber, s.lastEventAt?.getTime() ?? 0] as const));
  // Open pull requests GitHub shows newer than what was applied (or never applied).
  for (const pr of open) {
    if (Date.parse(pr.updated_at) <= (appliedAt.get(pr.number) ?? -1)) continue;
    if (await reconcile(deps, installationId, repository, pr)) {
      counts.applied++;
      corrections.inc({ kind: 'applied' });
    }
  }
  // Live environments whose pull request is no longer open: GitHub's own record of it is applied.
  const octokit = deps.clients.for(installationId);
  for (const env of live.filter((e) => !byNumber.has(e.prNumber))) {
    let pr: PullRequest | null = null;
    try {
      pr = (await octokit.rest.pulls.get({ owner: repository.owner.login, repo: repository.name, pull_number: env.prNumber })).data as unknown as PullRequest;
    } catch (err) {
      if ((err as { status?: number }).status !== 404) throw err;
    }
    if (pr && pr.state === 'open') continue; // opened since the list was read
    const changed = pr
      ? await reconcile(deps, installationId, repository, pr)
      : (await db.$transaction((tx) => destroyEnvironments(tx, { ...ofRepository, prNumber: env.prNumber }, 'This pull request no longer exists on GitHub, so its preview was removed.', deps.settings.logMaxBytes))).length > 0;
    if (changed) {
      counts.destroyed++;
      corrections.inc({ kind: 'destroyed' });
    }
  }
}

/** The repository's open pull requests, or null when GitHub says the list is unchanged since the last pass (304). */
async function openPullRequests({ db, clients }: ResyncDeps, installationId: number, repository: Repository): Promise<PullRequest[] | null> {
  const octokit = clients.for(installationId);
  const stored = await db.pullListEtag.findUnique({ where: { repositoryFullName: repository.full_name } });
  const params = { owner: repository.owner.login, repo: repository.name, state: 'open' as const, per_page: 100 };
  let first;
  try {
    first = await octokit.rest.pulls.list({ ...params, ...(stored ? { headers: { 'if-none-match': stored.etag } } : {}) });
  } catch (err) {
    if ((err as { status?: number }).status === 304) return null;
    throw err;
  }
  const pulls = first.data as unknown as PullRequest[];
  if (pulls.length === params.per_page) {
    for await (const { data } of octokit.paginate.iterator(octokit.rest.pulls.list, { ...params, page: 2 })) pulls.push(...(data as unknown as PullRequest[]));
  }
  const etag = first.headers.etag;
  if (etag) {
    await db.pullListEtag.upsert({
      where: { repositoryFullName: repository.full_name },
      create: { repositoryFullName: repository.full_name, etag },
      update: { etag },
    });
  }
  return pulls;
}

/**
 * Applies GitHub's record of a pull request as the worker applies a webhook's snapshot. It carries no sender, so
 * it grants no trust: a fork's new commit stays held until someone with write access vouches for it.
 */
async function reconcile(deps: ResyncDeps, installationId: number, repository: Repository, pr: PullRequest): Promise<boolean> {
  const job = pullRequestJobFromGithub(installationId, repository, pr);
  if (!job) return false;
  const touched: Touched = await deps.db.$transaction(
    (tx) => reconcilePullRequest({ tx, settings: deps.settings, logger: deps.logger, facts: NO_FACTS }, job),
    { maxWait: 10_000, timeout: 30_000 },
  );
  if (touched.stale) return false;
  await deps.followUps.ensure([touched]);
  return true;
}
