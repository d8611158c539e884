import { jobRunName, type JobWhen } from '@ephemera/schema';
import { ProvisionError, type LogSink, type ProvisionTarget } from '../provisioner.js';
import { createOnce, FIELD_MANAGER } from './preview-apply.js';
import { jobManifest } from './preview-job.js';
import type { PreviewManifestInput } from './preview-manifest-input.js';
import type { ProvisionerContext } from './provisioner-context.js';
import { waitForJob } from './workload-waits.js';

/** Lines of a job run's log kept in the deployment's logs. */
const JOB_LOG_TAIL_LINES = 200;

/**
 * Runs the configuration's jobs of one kind, in file order, each to its end: a Job per run, named by the
 * deployment, whose log's end goes into the deployment's logs. A failed `before_deploy` job fails the deployment
 * before any service rolled, so the previous version keeps serving; a failed `after_create` job fails it too, and
 * the next deploy runs the `after_create` jobs again.
 */
export async function runJobs(ctx: ProvisionerContext, when: JobWhen, input: PreviewManifestInput, target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<void> {
  const jobs = Object.entries(input.config.jobs ?? {}).filter(([, j]) => j.when === when);
  if (jobs.length === 0) return;
  if (target.deploymentId === undefined) throw new ProvisionError('job runs are named by their deployment, and this deploy has none', false);
  for (const [name, job] of jobs) {
    const run = jobManifest(input, name, job, jobRunName(name, target.commitSha, target.deploymentId));
    const runName = run.metadata!.name!;
    // A retried deploy finds its run already made: it is waited for, not run twice.
    await createOnce(`creating Job ${runName}`, () => ctx.api.batch.createNamespacedJob({ namespace: target.namespace, body: run, fieldManager: FIELD_MANAGER }), signal);
    log(`job ${name} (${when}): Job ${runName} started`);
    const end = await waitForJob(runName, {
      api: ctx.api,
      namespace: target.namespace,
      log,
      signal,
      pollMs: ctx.clock.pollMs,
      // Its activeDeadlineSeconds ends it first; this allows for the pod's start and the controller's report.
      deadline: Date.now() + (job.timeout_seconds + 60) * ctx.clock.secondMs,
      tailLines: JOB_LOG_TAIL_LINES,
    });
    if (end.log.length > 0) log(`job ${name} log (last ${end.log.length} lines):\n${end.log.join('\n')}`);
    if (!end.ok) {
      const cause = end.exitCode !== undefined ? `exit code ${end.exitCode}` : end.reason === 'DeadlineExceeded' ? `not finished after ${job.timeout_seconds} s` : end.reason;
      throw new ProvisionError(`job ${name} failed: ${cause}`, false, [], when === 'before_deploy');
    }
    log(`job ${name} succeeded`);
  }
}
