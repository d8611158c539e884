import {
  appendDeploymentLogs,
  environmentKey,
  moveDeployment,
  readGateDeployment,
  readPullRequest,
  requeueAfterRerun,
  setGateWaitingFor,
  startWaiting,
  type GateDeployment,
  type PrismaClient,
} from '@ephemera/db';
import type { Logger } from '@ephemera/runtime';
import type { DeployJob } from '@ephemera/schema';
import type { FollowUps } from '../follow-ups.js';
import type { WorkerMetrics } from '../metrics.js';
import type { LoadedConfig, PreviewConfigSource } from '../provisioners/preview-config-source.js';
import { ProvisionError } from '../provisioners/provisioner.js';
import type { GateReader } from './gate-reader.js';
import { describeChecks, gateChecksOf, judgeGate, parseGateChecks, type GateCheck, type GateObservation, type GateVerdict } from './gate-rules.js';

export interface DeployGateDeps {
  db: PrismaClient;
  /** Where `.ephemera.yml` is read and the checks are asked for; absent with PROVISIONER=none, which never waits. */
  configs?: PreviewConfigSource | undefined;
  reader?: GateReader | undefined;
  followUps: FollowUps;
  logger: Logger;
  metrics: Pick<WorkerMetrics, 'gateWaitSeconds' | 'gateFailures'>;
  logMaxBytes?: number | undefined;
  /** How long one configured minute lasts (`wait_timeout_minutes`); tests shorten it. */
  minuteMs?: number | undefined;
}

/** Whether the deploy step goes on to claim and apply the deployment, with the configuration already read. */
export type GateOutcome = { proceed: true; config?: LoadedConfig } | { proceed: false; result: string };

const PROCEED: GateOutcome = { proceed: true };

/**
 * The deploy gate, run by the deploy step before it claims a deployment. A QUEUED deployment whose `.ephemera.yml`
 * has `deploy.wait_for` goes on only when every named check has passed on its exact commit; while one has not, it is
 * WAITING (nothing is applied, the environment keeps its status) and looked at again on each check event of its
 * commit, on each poll and at its deadline. A failed check or the deadline fails it, and a running preview keeps
 * serving its previous commit. A deployment whose gate failed is revived when a re-run of the checks passes and its
 * commit is still the pull request's head. GitHub is asked outside any transaction; when it cannot answer, nothing
 * changes and the next look tries again.
 */
export async function passDeployGate(deps: DeployGateDeps, job: DeployJob, attempt: { final: boolean }): Promise<GateOutcome> {
  if (!deps.configs || !deps.reader) return PROCEED;
  const dep = await readGateDeployment(deps.db, job.deploymentId);
  // Gone or not this environment's: the claim finds out and says so.
  if (!dep || dep.environmentId !== job.environmentId) return PROCEED;
  if (dep.status === 'QUEUED') return fromQueued(deps, dep, attempt.final);
  if (dep.status === 'WAITING') return fromWaiting(deps, dep);
  if (dep.status === 'FAILED' && dep.gateFailed) return afterRerun(deps, dep);
  return PROCEED;
}

async function fromQueued(deps: DeployGateDeps, dep: GateDeployment, final: boolean): Promise<GateOutcome> {
  const env = dep.environment;
  const configSha = env.fromFork ? env.baseSha : dep.commitSha;
  // Not deployable now (being destroyed, waiting for room) or no configuration to read: the claim and the apply say why.
  if (env.status === 'DESTROYING' || env.status === 'DESTROYED' || env.waitingSince !== null || configSha === null) return PROCEED;
  let loaded: LoadedConfig;
  try {
    loaded = await deps.configs!.load({ installationId: Number(env.installationId), repositoryFullName: env.repositoryFullName, sha: configSha, fromFork: env.fromFork });
  } catch (err) {
    if (err instanceof ProvisionError && err.transient && !final) throw err;
    // The apply reads it again and fails the deployment with the reason, as without a gate.
    return PROCEED;
  }
  const gate = loaded.config.deploy;
  if (!gate) return { proceed: true, config: loaded };
  const checks = gateChecksOf(gate.wait_for);
  const first = await observe(deps, dep);
  const verdict = first ? judge(checks, first, dep, false) : null;
  if (verdict?.state === 'open') return { proceed: true, config: loaded };
  if (verdict?.state === 'failed') return fail(deps, dep, 'QUEUED', verdict);

  const minuteMs = deps.minuteMs ?? 60_000;
  const deadline = new Date(Date.now() + gate.wait_timeout_minutes * minuteMs);
  const waitingFor = describeChecks(verdict?.state === 'waiting' ? verdict.pending : checks);
  const since = await startWaiting(deps.db, { deploymentId: dep.id, checks, deadline, waitingFor });
  if (!since) return { proceed: false, result: 'skipped: no longer queued' };
  await log(deps, dep.id, `waiting for ${waitingFor} on ${dep.commitSha.slice(0, 7)} (at most ${gate.wait_timeout_minutes} minutes)`);
  await Promise.all([deps.followUps.gateDeadline(job(dep), deadline), feedback(deps, dep)]);
  // A check that concluded between the first look and the move to WAITING found no deployment waiting: look once more.
  const waiting: GateDeployment = { ...dep, status: 'WAITING', gateChecks: checks, waitingSince: since, gateDeadline: deadline, gateWaitingFor: waitingFor };
  return decide(deps, waiting, checks, await observe(deps, dep), loaded);
}

function fromWaiting(deps: DeployGateDeps, dep: GateDeployment): Promise<GateOutcome> {
  const checks = parseGateChecks(dep.gateChecks) ?? [];
  return observe(deps, dep).then((seen) => decide(deps, dep, checks, seen, undefined));
}

/** A waiting deployment, given what GitHub says now (null: it could not be asked). */
async function decide(deps: DeployGateDeps, dep: GateDeployment, checks: GateCheck[], seen: GateObservation | null, config: LoadedConfig | undefined): Promise<GateOutcome> {
  const timedOut = dep.gateDeadline !== null && Date.now() >= dep.gateDeadline.getTime();
  if (!seen) {
    if (!timedOut) return { proceed: false, result: 'waiting: GitHub could not be asked; the next look tries again' };
    const message = `still waiting for ${checks.map((c) => c.name).join(', ')} after ${waitedMinutes(deps, dep)} minutes (GitHub could not be asked for the checks)`;
    return fail(deps, dep, 'WAITING', { state: 'failed', reason: 'timeout', message });
  }
  const verdict = judge(checks, seen, dep, timedOut, waitedMinutes(deps, dep));
  if (verdict.state === 'failed') return fail(deps, dep, 'WAITING', verdict);
  if (verdict.state === 'waiting') {
    if (await setGateWaitingFor(deps.db, dep.id, describeChecks(verdict.pending))) await feedback(deps, dep);
    return { proceed: false, result: `waiting for ${describeChecks(verdict.pending)}` };
  }
  if (dep.waitingSince) deps.metrics.gateWaitSeconds.observe((Date.now() - dep.waitingSince.getTime()) / 1000);
  await Promise.all([log(deps, dep.id, `checks passed on ${dep.commitSha.slice(0, 7)}: ${describeChecks(checks)}`), deps.followUps.cancelGateDeadline(dep.id)]);
  return config ? { proceed: true, config } : PROCEED;
}

/**
 * A deployment whose gate failed, whose commit is still the pull request's head: once no check has failed any more
 * (the failed one was re-run) and every one has at least started, the commit is queued again, and its gate decides
 * from there (waiting for the re-run to finish, with the poll and a new deadline). A name that never appeared does
 * not bring back a deployment that timed out waiting for it.
 */
async function afterRerun(deps: DeployGateDeps, dep: GateDeployment): Promise<GateOutcome> {
  const checks = parseGateChecks(dep.gateChecks);
  // The pull request as it stands, read only here: most deploy jobs never need it. The requeue checks it again under the lock.
  const { latest, state } = await readPullRequest(deps.db, environmentKey(dep.environment));
  if (!checks || latest?.id !== dep.id || state?.lastHeadSha !== dep.commitSha) return { proceed: false, result: 'skipped: no longer the latest deployment of the head commit' };
  const seen = await observe(deps, dep);
  const verdict = seen && judge(checks, seen, dep, false);
  const again = verdict?.state === 'open' || (verdict?.state === 'waiting' && verdict.unseen.length === 0);
  if (!again) return { proceed: false, result: 'skipped: the checks have not passed' };
  const id = await requeueAfterRerun(deps.db, { deploymentId: dep.id, environmentId: dep.environmentId, commitSha: dep.commitSha });
  if (id === null) return { proceed: false, result: 'skipped: no longer applies' };
  await deps.followUps.after(environmentKey(dep.environment));
  return { proceed: false, result: `checks passed on a re-run; deployment ${id} queued` };
}

/**
 * Fails the deployment at its gate. A new environment fails with it; a running preview stays READY on the commit it
 * serves, and the comment says why the latest one was not deployed.
 */
async function fail(deps: DeployGateDeps, dep: GateDeployment, from: 'QUEUED' | 'WAITING', verdict: Extract<GateVerdict, { state: 'failed' }>): Promise<GateOutcome> {
  const moved = await moveDeployment(deps.db, {
    lock: true,
    deploymentId: dep.id,
    from: [from],
    to: 'FAILED',
    errorMessage: verdict.message,
    gateFailed: true,
    appendLogs: `${new Date().toISOString()} not deployed: ${verdict.message}\n`,
    ...(deps.logMaxBytes !== undefined ? { maxLogBytes: deps.logMaxBytes } : {}),
    environment: { id: dep.environmentId, from: ['PENDING'], to: 'FAILED', change: { errorMessage: verdict.message } },
  });
  if (!moved.deployment) return { proceed: false, result: `skipped: no longer ${from}` };
  deps.metrics.gateFailures.inc({ reason: verdict.reason });
  deps.logger.info({ deployment_id: dep.id, environment_id: dep.environmentId, reason: verdict.reason }, `not deployed: ${verdict.message}`);
  await Promise.all([deps.followUps.cancelGateDeadline(dep.id), feedback(deps, dep)]);
  return { proceed: false, result: `not deployed: ${verdict.message}` };
}

function judge(checks: readonly GateCheck[], seen: GateObservation, dep: GateDeployment, timedOut: boolean, minutes = 0): GateVerdict {
  return judgeGate(checks, seen, { sha: dep.commitSha, timedOut, waitedMinutes: minutes });
}

function waitedMinutes(deps: DeployGateDeps, dep: GateDeployment): number {
  if (!dep.gateDeadline || !dep.waitingSince) return 0;
  return Math.round((dep.gateDeadline.getTime() - dep.waitingSince.getTime()) / (deps.minuteMs ?? 60_000));
}

async function observe(deps: DeployGateDeps, dep: GateDeployment): Promise<GateObservation | null> {
  const env = dep.environment;
  try {
    return await deps.reader!.read({ installationId: Number(env.installationId), repositoryFullName: env.repositoryFullName, sha: dep.commitSha });
  } catch (err) {
    deps.logger.warn({ deployment_id: dep.id, err: { message: (err as Error).message } }, 'could not read the checks of a commit from GitHub; the next look tries again');
    return null;
  }
}

function job(dep: GateDeployment): DeployJob {
  return { environmentId: dep.environmentId, deploymentId: dep.id };
}

function feedback(deps: DeployGateDeps, dep: GateDeployment): Promise<void> {
  return deps.followUps.feedback(environmentKey(dep.environment), Number(dep.environment.installationId) || null);
}

async function log(deps: DeployGateDeps, deploymentId: number, line: string): Promise<void> {
  await appendDeploymentLogs(deps.db, deploymentId, `${new Date().toISOString()} ${line}\n`, deps.logMaxBytes);
}
