import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { readFeedbackState, recordFeedback, type PullRequestKey } from '@ephemera/db';
import { FEEDBACK_JOB, QUEUES, feedbackJobSchema, repositoryAccount, repositoryIdentity, type FeedbackJob } from '@ephemera/schema';
import { CommentBeingCreated, syncComment } from '../../feedback/pull-request-comment.js';
import { approvalsOf, renderComment } from '../../feedback/render-comment.js';
import { reportDeployments } from '../../feedback/report-deployments.js';
import { isRetryableGithubError, type RepoRef } from '../../github/github-feedback.js';
import { rateLimitWait } from '../../github/rate-limit.js';
import type { JobContext } from '../job-context.js';
import { defineJob } from '../job-definition.js';

/** One feedback job per pull request at a time, by repository id (or name, for rows from before ids were kept). */
export function feedbackDedupId(data: Pick<FeedbackJob, 'repositoryId' | 'repositoryFullName' | 'prNumber'>): string {
  return `fb-${repositoryIdentity(data)}-${data.prNumber}`;
}

/**
 * Tells the pull request what is happening: one comment edited in place (only when its text changes), a commit
 * status per deployment's commit, and a GitHub Deployment with its statuses. The job reads the state when it runs
 * and reports only what moved since the last report (each deployment keeps what was reported of it), so late or
 * repeated jobs report the truth rather than history, and a burst of steps ends in one report per commit. One job
 * per pull request runs at a time (the queue deduplicates them).
 *
 * No GitHub call runs inside a transaction or under a lock: the comment's and the GitHub deployment's ids are
 * recorded afterwards with compare-and-set writes, and a job that loses a race removes what it made. GitHub's
 * rate limits are waited out as long as GitHub says (the job is delayed, not failed, so nothing is dropped for
 * them); 5xx are retried by the queue; other 4xx are logged and dropped. Nothing here changes an environment's
 * state.
 *
 * Deduplicated per pull request: while one waits, adds are absorbed by it; while one runs, one more is kept to
 * follow it (`keepLastIfActive`). The delay (FEEDBACK_DELAY_MS) lets the steps of one change (the event, the deploy's
 * start and end) arrive before it reports. Each add gives a fresh job id, so its producer can tell whether the add
 * made a job or was absorbed.
 */
export const feedbackJob = defineJob({
  queue: QUEUES.feedback,
  name: FEEDBACK_JOB,
  schema: feedbackJobSchema,
  options: (data, settings) => ({
    attempts: 8,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { age: 3600, count: 2_000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
    delay: settings.FEEDBACK_DELAY_MS,
    deduplication: { id: feedbackDedupId(data), keepLastIfActive: true },
  }),
  // Feedback is the App writing to the account's repository: never for an account outside ALLOWED_ACCOUNTS.
  account: (data) => repositoryAccount(data.repositoryFullName),
  handle: (data, ctx, job, token) => report(ctx, data, job, token),
});

async function report({ db, github, logger, config, settings }: JobContext, data: FeedbackJob, job: Job, token?: string): Promise<string> {
  const publicUrl = config.PUBLIC_URL;
  if (data.installationId === null) return 'skipped: no installation (repository webhook)';
  const key: PullRequestKey = { repositoryId: data.repositoryId, repositoryFullName: data.repositoryFullName, prNumber: data.prNumber };
  try {
    const fs = await readFeedbackState(db, key);
    const env = fs.environment;
    // The repository as it is called now (a rename since the job was queued).
    const [owner, repo] = (env?.repositoryFullName ?? data.repositoryFullName).split('/') as [string, string];
    const ref: RepoRef = { installationId: data.installationId, owner, repo };
    // A pull request that never had a preview (a draft, one without PREVIEW_LABEL) gets no comment; one held
    // for approval does, to say what it waits for.
    const commented = env !== null || fs.state?.heldSha != null || fs.state?.commentId != null;
    const approvals = env?.fromFork ? approvalsOf(fs.state, settings, [env.commitSha, fs.servingSha]) : [];
    const body = renderComment(env, fs.latest, fs.state?.heldSha ?? null, fs.state?.note ?? null, publicUrl, fs.servingSha, approvals);
    const digest = commented ? await syncComment(db, github, ref, key, fs.state, body) : null;
    const reported = env ? await reportDeployments(db, github, ref, env, fs.toReport) : [];
    await recordFeedback(db, { stateId: fs.state?.id ?? null, commentDigest: digest, reported });
    return commented || reported.length > 0 ? 'reported' : 'skipped: no preview';
  } catch (err) {
    const wait = rateLimitWait(err);
    if (wait !== null && token) {
      logger.warn({ repository: data.repositoryFullName, pr: data.prNumber, wait_ms: wait }, 'GitHub rate limit; feedback waits as long as GitHub says');
      await job.moveToDelayed(Date.now() + wait, token);
      throw new DelayedError();
    }
    if (isRetryableGithubError(err) || err instanceof CommentBeingCreated) throw err;
    const status = (err as { status?: number }).status;
    logger.warn({ repository: data.repositoryFullName, pr: data.prNumber, status, err: (err as Error).message }, 'GitHub refused feedback; dropped');
    throw new UnrecoverableError(`GitHub answered ${status}: ${(err as Error).message}`);
  }
}

