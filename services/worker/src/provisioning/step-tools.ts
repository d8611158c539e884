import type { Job, JobsOptions } from 'bullmq';
import { appendDeploymentLogs, type Environment, type PrismaClient } from '@ephemera/db';
import type { JobSettings } from '../jobs/job-definition.js';
import { ProvisionError, StepAbandoned, type ProvisionTarget } from '../provisioners/provisioner.js';

// What the provisioning steps (deploy, destroy) share: their retries, the provisioner's target, their logs, and the
// watchdog that stops a step no longer wanted.

/** Attempts (PROVISION_ATTEMPTS), backoff and retention of every provisioning job. */
export function provisioningRetries(settings: Pick<JobSettings, 'PROVISION_ATTEMPTS'>): JobsOptions {
  return {
    attempts: settings.PROVISION_ATTEMPTS,
    backoff: { type: 'exponential', delay: 2_000 },
    removeOnComplete: { age: 24 * 3600, count: 5_000 },
    removeOnFail: { age: 14 * 24 * 3600, count: 10_000 },
  };
}

export function target(env: Environment, commitSha: string, extra: Pick<ProvisionTarget, 'config' | 'restartedAt' | 'deploymentId'> = {}): ProvisionTarget {
  return {
    environmentId: env.id,
    namespace: env.namespace,
    repositoryFullName: env.repositoryFullName,
    prNumber: env.prNumber,
    branchName: env.branchName,
    commitSha,
    environmentUrl: env.environmentUrl,
    installationId: Number(env.installationId),
    fromFork: env.fromFork,
    // A fork never supplies the configuration: its previews are configured by the base branch.
    configSha: env.fromFork ? env.baseSha : commitSha,
    afterCreateSucceeded: env.afterCreateSucceededAt != null,
    ...extra,
  };
}

export function isLastAttempt(job: Job): boolean {
  return job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

export function isFinalAttempt(job: Job, err: unknown): boolean {
  if (err instanceof ProvisionError && !err.transient) return true;
  return isLastAttempt(job);
}

export function describe(err: unknown): string {
  if (err instanceof ProvisionError && err.events.length > 0) return `${err.message} (${err.events.join('; ')})`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Collects log lines and appends them to the deployment in batches, not one write per line. `drain` stops it and
 * hands back what is left, for the step's final statement to write with the status.
 */
export function logBuffer(db: PrismaClient, deploymentId: number | null, maxBytes?: number) {
  let lines: string[] = [];
  const take = () => {
    const text = lines.join('');
    lines = [];
    return text;
  };
  const flush = async () => {
    if (lines.length === 0 || deploymentId === null) return;
    await appendDeploymentLogs(db, deploymentId, take(), maxBytes);
  };
  const timer = setInterval(() => void flush().catch(() => undefined), 1_000);
  return {
    push: (line: string) => void lines.push(`${new Date().toISOString()} ${line}\n`),
    drain(): string {
      clearInterval(timer);
      return take();
    },
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}

/** Aborts the step when `stillWanted` turns false: a newer push superseded it or the PR was closed. */
export function watchdog(stillWanted: () => Promise<boolean>, intervalMs: number) {
  const controller = new AbortController();
  let stopped = false;
  const timer = setInterval(() => {
    stillWanted().then(
      // A check still under way when the step ended (and moved the deployment on) must not abort it afterwards.
      (ok) => ok || stopped || controller.abort(new StepAbandoned('no longer wanted')),
      () => undefined,
    );
  }, intervalMs);
  return {
    signal: controller.signal,
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}

