import type { EnvironmentInsert, PullRequestKey, PullRequestRecord, PullRequestWrite } from '@ephemera/db';
import type { EnvironmentStatus, PullRequestEventJob } from '@ephemera/schema';
import type { PreviewSettings } from '../pull-request-reconciler.js';
import { waitingNote } from '../repository-capacity.js';
import { shortSha, type ApprovalDecision } from './fork-approval.js';
import { NeedsTransaction } from './reconcile-errors.js';

// What a pull request's environment should become after an event (made, brought back, redeployed, held for
// approval, removed), as the one write that applies it. No I/O of its own: what it reads is asked of a PlanIo.

const ALIVE = new Set<EnvironmentStatus>(['PENDING', 'PROVISIONING', 'READY', 'UPDATING', 'FAILED']);

/** What deciding the write asks of the database: a new environment's row and the repository's capacity. */
export interface PlanIo {
  /** The fields of a new environment (its owner's user made if need be), but its status. */
  newEnvironment(): Promise<Omit<EnvironmentInsert, 'status'>>;
  /** Takes the repository's lock, under which its places are counted. */
  lockRepository(): Promise<void>;
  /** The environments of the repository that take a place, the one of `exceptId` aside. */
  placesTaken(exceptId: number | undefined): Promise<number>;
  /** The repository's PENDING environments waiting since before `since`. */
  waitingAhead(since: Date): Promise<number>;
}

export interface PlanInput {
  key: PullRequestKey;
  job: PullRequestEventJob;
  /** The pull request as read. */
  record: PullRequestRecord;
  settings: PreviewSettings;
  /** The approval of the head after this event. */
  decision: ApprovalDecision;
  /** Applied without a transaction: what needs the lock held from the read on throws {@link NeedsTransaction}. */
  optimistic: boolean;
}

/** The write being planned, and what the existing environment moves to (undefined: unchanged). */
interface Plan {
  input: PlanInput;
  write: PullRequestWrite;
  status?: EnvironmentStatus;
  waitingSince?: Date | null;
}

/** The write that brings the pull request's environment in line with the event. */
export async function planWrite(input: PlanInput, io: PlanIo): Promise<PullRequestWrite> {
  const { job, record, settings, decision } = input;
  const pr = job.pullRequest;
  const env = record.environment;
  const qualifies = !pr.draft && (!settings.previewLabel || pr.labels.includes(settings.previewLabel));
  const wanted = pr.state === 'open' && qualifies;
  const plan: Plan = { input, write: baseWrite(input) };
  if (!wanted) {
    await planRemoval(plan, qualifies, io);
  } else if (!decision.approved && decision.withdrawn && env && ALIVE.has(env.status)) {
    // The approval that let this fork's code run was withdrawn (the label removed, the review dismissed): the preview goes.
    supersede(plan, 'approval withdrawn');
    plan.status = 'DESTROYING';
    plan.write.state.heldSha = pr.headSha;
    plan.write.state.note = `${decision.withdrawn} Someone with write access ${decision.how} to deploy ${shortSha(pr.headSha)}.`;
  } else if (!decision.approved) {
    hold(plan);
  } else {
    await planDeployment(plan, io);
  }
  if (env) plan.write.environment = environmentUpdate(plan, wanted);
  return plan.write;
}

/** Nothing changed yet but the pull request's state: what was applied, and the vouchers after the event. */
function baseWrite({ key, job, record, decision }: PlanInput): PullRequestWrite {
  const pr = job.pullRequest;
  const eventAt = new Date(pr.updatedAt);
  const lastAt = record.state?.lastEventAt ?? null;
  return {
    key,
    from: record,
    supersede: null,
    environment: null,
    deployment: null,
    state: {
      installationId: job.installationId === null ? null : BigInt(job.installationId),
      lastEventAt: lastAt && lastAt > eventAt ? lastAt : eventAt,
      ...decision.vouchers,
      heldSha: null,
      lastPrState: pr.state,
      lastHeadSha: pr.headSha,
      note: null,
    },
  };
}

function supersede(plan: Plan, reason: string): void {
  plan.write.supersede = { ids: plan.input.record.active, reason };
}

/** The pull request is closed, a draft, or without the preview label: its preview goes. */
async function planRemoval(plan: Plan, qualifies: boolean, io: PlanIo): Promise<void> {
  const { job, record, settings, decision } = plan.input;
  const pr = job.pullRequest;
  const env = record.environment;
  if (!env && pr.state === 'closed' && qualifies && decision.approved) {
    // Closed before any event that would have created its environment was applied (GitHub does not
    // promise order, and the opened event may never come): the record is made and torn down like the one
    // an in-order history leaves, so the outcome does not depend on arrival order.
    plan.write.environment = { insert: { ...(await io.newEnvironment()), status: 'DESTROYING' } };
  } else if (env && env.status === 'DESTROYING') {
    // Reopened and closed again while being destroyed: the deployment queued by the reopen is void.
    supersede(plan, 'pull request closed');
  } else if (env && ALIVE.has(env.status)) {
    supersede(plan, 'pull request closed');
    plan.status = 'DESTROYING';
    plan.write.state.note =
      pr.state === 'closed'
        ? 'The pull request was closed, so its preview is being removed. Reopen it to bring the preview back.'
        : pr.draft
          ? 'The pull request is a draft, so its preview is being removed. Mark it ready for review to bring it back.'
          : `The \`${settings.previewLabel}\` label was removed, so the preview is being removed. Add it again to bring it back.`;
  }
}

/** A fork's code runs in the preview: it waits for a maintainer. A running preview keeps the approved commit. */
function hold(plan: Plan): void {
  const { job, record, decision } = plan.input;
  const head = job.pullRequest.headSha;
  plan.write.state.heldSha = head;
  plan.write.state.note = decision.refusal
    ? `${decision.refusal} Someone with write access ${decision.how} to deploy ${shortSha(head)}.`
    : record.environment
      ? `New commits from a fork need approval before they are deployed: someone with write access ${decision.how} to deploy ${shortSha(head)}.`
      : `This pull request comes from a fork, so its preview waits for approval: someone with write access to ${job.repository.fullName} ${decision.how} to deploy ${shortSha(head)}.`;
}

/** The head may run: a new environment, one coming back, or a new deployment, within the repository's places. */
async function planDeployment(plan: Plan, io: PlanIo): Promise<void> {
  const { job, record, settings, decision, optimistic } = plan.input;
  const pr = job.pullRequest;
  const env = record.environment;
  const limit = settings.maxEnvironmentsPerRepo ?? 0;
  const kept = keptDestroyed(record, job, settings, decision.granted);
  // A new environment, or one coming back, takes a place: counted under the repository's lock.
  const takesPlace = limit > 0 && !kept && (!env || env.status === 'DESTROYED');
  if (takesPlace && optimistic) throw new NeedsTransaction('counting places under MAX_ENVIRONMENTS_PER_REPO');
  if (takesPlace) await io.lockRepository();
  const full = takesPlace && (await io.placesTaken(env?.id)) >= limit;
  if (full) plan.waitingSince = new Date();
  if (!env) {
    if (job.installationId === null) {
      plan.write.state.note = 'This repository sends webhooks directly rather than through the Ephemera GitHub App.';
    }
    plan.write.environment = { insert: { ...(await io.newEnvironment()), status: 'PENDING', waitingSince: plan.waitingSince ?? null } };
    plan.write.deployment = { commitSha: pr.headSha, commitMessage: pr.title };
  } else if (kept) {
    // Nothing is deployed, and the comment keeps saying why the preview went.
    plan.write.state.note = record.state?.note ?? null;
  } else if (needsDeployment(record, pr.headSha)) {
    supersede(plan, `superseded by ${pr.headSha.slice(0, 7)}`);
    // DESTROYING: the destroy finishes first, then this queued deployment brings the environment back.
    if (env.status === 'DESTROYED' || env.status === 'FAILED') plan.status = 'PENDING';
    plan.write.deployment = { commitSha: pr.headSha, commitMessage: pr.title };
  }
  const since = plan.waitingSince ?? (env?.status === 'PENDING' ? env.waitingSince : null);
  if (since) plan.write.state.note = waitingNote(limit, await io.waitingAhead(since));
}

/** The existing environment's fields kept current from the event, and the status it moves to. */
function environmentUpdate(plan: Plan, wanted: boolean): PullRequestWrite['environment'] {
  const { job, decision } = plan.input;
  const pr = job.pullRequest;
  return {
    update: {
      repositoryName: job.repository.name,
      prTitle: pr.title,
      branchName: pr.headRef,
      fromFork: decision.fromFork,
      ...(pr.baseSha !== null ? { baseSha: pr.baseSha } : {}),
      // The head commit, except while a fork's new commit waits for approval: then the deployed one stays.
      ...(decision.approved || !wanted ? { commitSha: pr.headSha } : {}),
      ...(job.installationId !== null ? { installationId: BigInt(job.installationId) } : {}),
      ...(plan.waitingSince !== undefined ? { waitingSince: plan.waitingSince } : {}),
    },
    ...(plan.status !== undefined ? { status: plan.status } : {}),
  };
}

/**
 * A new deployment when the commit changed or the environment is coming back. A reopen while the environment is
 * still being destroyed, whose deployment is already queued, needs none.
 */
export function needsDeployment({ environment: env, latest }: PullRequestRecord, headSha: string): boolean {
  const comingBack = env!.status === 'DESTROYED' || env!.status === 'DESTROYING' || env!.status === 'FAILED';
  const sameCommit = latest !== null && latest.commitSha === headSha && latest.status !== 'FAILED';
  if (sameCommit && !comingBack) return false;
  return !(sameCommit && env!.status === 'DESTROYING' && latest.status === 'QUEUED');
}

/**
 * A preview destroyed on request (the dashboard, the write API) stays destroyed as after a close, though its pull
 * request is still open: a push (another head commit), a reopen, ready for review, or the preview or approval label
 * added brings it back; an edit or another label does not.
 */
export function keptDestroyed({ environment: env, state }: PullRequestRecord, job: PullRequestEventJob, settings: PreviewSettings, approvalGranted: boolean): boolean {
  if (env?.lastAction !== 'destroy' || (env.status !== 'DESTROYING' && env.status !== 'DESTROYED')) return false;
  const pr = job.pullRequest;
  const bringsBack =
    pr.headSha !== env.commitSha ||
    state?.lastPrState === 'closed' ||
    (job.event === 'pull_request' && ['opened', 'reopened', 'synchronize', 'ready_for_review'].includes(job.action)) ||
    approvalGranted ||
    (job.event === 'pull_request' && job.action === 'labeled' && settings.previewLabel !== undefined && job.label === settings.previewLabel);
  return !bringsBack;
}
