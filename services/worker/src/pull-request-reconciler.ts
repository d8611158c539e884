import {
  createDeployment,
  createEnvironment,
  getEnvironmentByPr,
  getLatestDeployment,
  getOrCreateUser,
  updateDeploymentStatus,
  updateEnvironmentStatus,
  type Environment,
  type Prisma,
} from '@ephemera/db';
import type { PullRequestJob } from '@ephemera/schema';
import type { HandlerContext } from './handlers/handler.js';
import { lockPullRequest } from './pull-request-lock.js';
import { lockRepository, placesTaken, waitingAhead, waitingNote } from './repository-capacity.js';
import type { Touched } from './touched.js';

export interface PreviewSettings {
  previewBaseDomain: string;
  /** Only PRs with this label get a preview, when set. */
  previewLabel: string | undefined;
  approveLabel: string;
  /** Scheme of the preview URL (PREVIEW_URL_SCHEME, default https). */
  previewUrlScheme?: 'http' | 'https';
  /** MAX_ENVIRONMENTS_PER_REPO (0 or unset: no limit). */
  maxEnvironmentsPerRepo?: number;
}

const ALIVE = new Set(['PENDING', 'PROVISIONING', 'READY', 'UPDATING', 'FAILED']);

export type ApprovalChange = 'granted' | 'revoked' | undefined;

/**
 * Brings a pull request's environment in line with the PR as the event shows it. Every pull_request event
 * carries the whole PR (state, draft, labels, head commit), so applying the newest snapshot is enough, and an
 * older one (GitHub does not promise order) is recognised by `updated_at` and changes nothing.
 *
 * A fork's code runs only with the say-so of someone who may write to the repository, as GitHub reports their
 * permission (`ctx.facts.senderTrusted`, asked before the transaction): a commit is deployable when a trusted
 * sender opened the PR with it or pushed it, or when a trusted sender's approval label covers it.
 *
 * Runs inside the caller's transaction, under the PR's advisory lock.
 */
export async function reconcilePullRequest(ctx: HandlerContext, job: PullRequestJob, approval: ApprovalChange = undefined): Promise<Touched> {
  const { tx, settings } = ctx;
  const repo = job.repository.fullName;
  const pr = job.pullRequest;
  await lockPullRequest(tx, repo, pr.number);
  const touched: Touched = {
    repositoryFullName: repo,
    prNumber: pr.number,
    installationId: job.installationId,
    superseded: [],
    note: null,
  };

  const eventAt = new Date(pr.updatedAt);
  const state = await tx.pullRequestState.findUnique({
    where: { repositoryFullName_prNumber: { repositoryFullName: repo, prNumber: pr.number } },
  });
  // Strictly older only: GitHub's timestamps have one-second resolution, and events of the same second
  // (opened, then labeled) must all apply.
  if (state?.lastEventAt && eventAt < state.lastEventAt) return { ...touched, stale: true };

  const fromFork = isFromFork(pr);
  const senderTrusted = ctx.facts.senderTrusted === true;
  let approvedSha = state?.approvedSha ?? null;
  let trustedSha = state?.trustedSha ?? null;
  let refusedApproval = false;
  if (approval === 'granted' && fromFork) {
    if (senderTrusted) approvedSha = pr.headSha;
    else refusedApproval = true;
  }
  if (approval === 'revoked') approvedSha = null;
  // The commit a trusted person opened the pull request with, or pushed.
  if (fromFork && senderTrusted && (job.action === 'opened' || job.action === 'synchronize')) trustedSha = pr.headSha;

  const env = await getEnvironmentByPr(tx, repo, pr.number);
  const qualifies = !pr.draft && (!settings.previewLabel || pr.labels.includes(settings.previewLabel));
  const wanted = pr.state === 'open' && qualifies;
  const approved = !fromFork || trustedSha === pr.headSha || (approvedSha === pr.headSha && pr.labels.includes(settings.approveLabel));
  let heldSha: string | null = null;
  const whoMayApprove = `only people with write access to ${repo} can approve a fork's preview`;

  if (!wanted) {
    if (!env && pr.state === 'closed' && qualifies && approved) {
      // Closed before any event that would have created its environment was applied (GitHub does not
      // promise order, and the opened event may never come): the record is made and torn down like the one
      // an in-order history leaves, so the outcome does not depend on arrival order.
      const created = await createEnvironment(tx, await environmentInput(tx, job, settings));
      await updateEnvironmentStatus(tx, created.id, 'DESTROYING');
    } else if (env && env.status === 'DESTROYING') {
      // Reopened and closed again while being destroyed: the deployment queued by the reopen is void.
      touched.superseded = await supersedeActive(tx, env.id, 'pull request closed');
    } else if (env && ALIVE.has(env.status)) {
      touched.superseded = await supersedeActive(tx, env.id, 'pull request closed');
      await updateEnvironmentStatus(tx, env.id, 'DESTROYING');
      touched.note =
        pr.state === 'closed'
          ? 'The pull request was closed, so its preview is being removed. Reopen it to bring the preview back.'
          : pr.draft
            ? 'The pull request is a draft, so its preview is being removed. Mark it ready for review to bring it back.'
            : `The \`${settings.previewLabel}\` label was removed, so the preview is being removed. Add it again to bring it back.`;
    }
  } else if (!approved && approval === 'revoked' && env && ALIVE.has(env.status)) {
    // The approval that let this fork's code run was withdrawn: the preview goes.
    touched.superseded = await supersedeActive(tx, env.id, 'approval withdrawn');
    await updateEnvironmentStatus(tx, env.id, 'DESTROYING');
    heldSha = pr.headSha;
    touched.note = `The \`${settings.approveLabel}\` label was removed, so this fork's preview is being removed. Someone with write access adds it again to deploy ${pr.headSha.slice(0, 7)}.`;
  } else if (!approved) {
    // A fork's code runs in the preview: it waits for a maintainer. A running preview keeps the approved commit.
    heldSha = pr.headSha;
    touched.note = refusedApproval
      ? `@${job.sender.login} added the \`${settings.approveLabel}\` label, but ${whoMayApprove} (and bots cannot): nothing was deployed.`
      : env
        ? `New commits from a fork need approval before they are deployed: someone with write access removes and adds the \`${settings.approveLabel}\` label again to deploy ${pr.headSha.slice(0, 7)}.`
        : `This pull request comes from a fork, so its preview waits for approval: someone with write access to ${repo} adds the \`${settings.approveLabel}\` label to deploy it.`;
  } else {
    const limit = settings.maxEnvironmentsPerRepo ?? 0;
    // A new environment, or one coming back, takes a place: counted under the repository's lock.
    const takesPlace = limit > 0 && (!env || env.status === 'DESTROYED');
    if (takesPlace) await lockRepository(tx, repo);
    const full = takesPlace && (await placesTaken(tx, repo, env?.id)) >= limit;
    const waitingSince = full ? new Date() : null;
    if (!env) {
      if (job.installationId === null) {
        touched.note = 'This repository sends webhooks directly rather than through the Ephemera GitHub App.';
      }
      const created = await createEnvironment(tx, { ...(await environmentInput(tx, job, settings)), waitingSince });
      await createDeployment(tx, { environmentId: created.id, commitSha: pr.headSha, commitMessage: pr.title });
    } else {
      await redeployIfNeeded(tx, env, pr.headSha, pr.title, touched);
      if (waitingSince) await tx.environment.update({ where: { id: env.id }, data: { waitingSince } });
    }
    const since = waitingSince ?? (env?.status === 'PENDING' ? env.waitingSince : null);
    if (since) touched.note = waitingNote(limit, await waitingAhead(tx, repo, since));
  }

  if (env) {
    await tx.environment.update({
      where: { id: env.id },
      data: {
        prTitle: pr.title,
        branchName: pr.headRef,
        fromFork,
        ...(pr.baseSha !== null ? { baseSha: pr.baseSha } : {}),
        // The head commit, except while a fork's new commit waits for approval: then the deployed one stays.
        ...(approved || !wanted ? { commitSha: pr.headSha } : {}),
        ...(job.installationId !== null ? { installationId: BigInt(job.installationId) } : {}),
      },
    });
  }
  await tx.pullRequestState.upsert({
    where: { repositoryFullName_prNumber: { repositoryFullName: repo, prNumber: pr.number } },
    create: {
      repositoryFullName: repo,
      prNumber: pr.number,
      installationId: job.installationId === null ? null : BigInt(job.installationId),
      lastEventAt: eventAt,
      approvedSha,
      trustedSha,
      heldSha,
    },
    update: {
      lastEventAt: eventAt,
      approvedSha,
      trustedSha,
      heldSha,
      ...(job.installationId !== null ? { installationId: BigInt(job.installationId) } : {}),
    },
  });
  return touched;
}

async function environmentInput(tx: Prisma.TransactionClient, job: PullRequestJob, settings: PreviewSettings) {
  const pr = job.pullRequest;
  const owner = await getOrCreateUser(tx, {
    githubId: pr.author.id,
    githubLogin: pr.author.login,
    email: pr.author.email,
    avatarUrl: pr.author.avatarUrl,
  });
  return {
    repositoryFullName: job.repository.fullName,
    prNumber: pr.number,
    prTitle: pr.title,
    branchName: pr.headRef,
    commitSha: pr.headSha,
    // A repository webhook has no installation; 0 marks it (feedback cannot be sent for it).
    installationId: job.installationId ?? 0,
    ownerId: owner.id,
    previewBaseDomain: settings.previewBaseDomain,
    previewUrlScheme: settings.previewUrlScheme ?? 'https',
    baseSha: pr.baseSha,
    fromFork: isFromFork(pr),
  };
}

/**
 * A new deployment when the commit changed or the environment is coming back; older deployments still queued
 * or running end as superseded, naming the new commit.
 */
async function redeployIfNeeded(
  tx: Prisma.TransactionClient,
  env: Environment,
  headSha: string,
  title: string,
  touched: Touched,
): Promise<void> {
  const latest = await getLatestDeployment(tx, env.id);
  const comingBack = env.status === 'DESTROYED' || env.status === 'DESTROYING' || env.status === 'FAILED';
  const sameCommit = latest !== null && latest.commitSha === headSha && latest.status !== 'FAILED';
  if (sameCommit && !comingBack) return;
  if (sameCommit && env.status === 'DESTROYING' && latest.status === 'QUEUED') return;

  touched.superseded = await supersedeActive(tx, env.id, `superseded by ${headSha.slice(0, 7)}`);
  if (env.status === 'DESTROYED' || env.status === 'FAILED') await updateEnvironmentStatus(tx, env.id, 'PENDING');
  // DESTROYING: the destroy finishes first, then this queued deployment brings the environment back.
  await createDeployment(tx, { environmentId: env.id, commitSha: headSha, commitMessage: title });
}

async function supersedeActive(tx: Prisma.TransactionClient, environmentId: number, reason: string): Promise<number[]> {
  const active = await tx.deployment.findMany({
    where: { environmentId, status: { in: ['QUEUED', 'IN_PROGRESS'] } },
    select: { id: true },
  });
  for (const d of active) {
    await updateDeploymentStatus(tx, d.id, 'FAILED', { errorMessage: reason, appendLogs: `${reason}\n` });
  }
  return active.map((d) => d.id);
}

/** A PR whose head is not in the base repository (or whose fork was deleted) carries someone else's code. */
export function isFromFork(pr: PullRequestJob['pullRequest']): boolean {
  return pr.headRepoFullName === null || pr.headRepoFullName.toLowerCase() !== pr.baseRepoFullName.toLowerCase();
}
