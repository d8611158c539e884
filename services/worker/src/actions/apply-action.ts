import {
  environmentActionApplied,
  environmentKey,
  lockEnvironmentPullRequest,
  readPullRequest,
  writeEnvironmentAction,
  type EnvironmentActionWrite,
  type PullRequestRecord,
} from '@ephemera/db';
import { ACTION_APPLIES_TO, type ActionRequester, type EnvironmentAction, type EnvironmentActionJob } from '@ephemera/schema';
import type { JobContext } from '../jobs/job-context.js';

/** What applying an action needs of the job context. */
export type ActionDeps = Pick<JobContext, 'db' | 'followUps' | 'logger' | 'settings'>;

type Decision = { skip: string } | { duplicate: true } | { write: Omit<EnvironmentActionWrite, 'requestId' | 'action' | 'requestedBy' | 'requestedAt'> };

/**
 * Redeploy and destroy, asked for from the dashboard or the write API. The query service checked that
 * the action applied when it was asked; the environment may have moved since, so it is decided again here under the
 * pull request's lock, like an event. The request id is recorded with the change in one transaction, so a job run
 * twice (a retry after a crash, the same request queued again) applies once. The deploy or destroy job and the
 * feedback follow from the state the transaction left, as after any event.
 */
export async function applyAction({ db, followUps, logger, settings }: ActionDeps, action: EnvironmentAction, job: EnvironmentActionJob): Promise<string> {
  const logMaxBytes = settings.logMaxBytes;
  const log = { request_id: job.requestId, environment_id: job.environmentId, action, requested_by: job.requestedBy.login, requester_kind: job.requestedBy.kind };
  const duplicate = { duplicate: true } as const;
  const result = await db.$transaction(
    async (tx) => {
      if (!(await lockEnvironmentPullRequest(tx, job.environmentId))) return { decision: { skip: 'the environment no longer exists' } };
      const env = await tx.environment.findUniqueOrThrow({ where: { id: job.environmentId } });
      const key = environmentKey(env);
      if (await environmentActionApplied(tx, job.requestId)) return { decision: duplicate, key };
      const decision: Decision = decide(action, job, await readPullRequest(tx, key), env.id);
      if (!('write' in decision)) return { decision, key };
      const written = await writeEnvironmentAction(tx, {
        ...decision.write,
        requestId: job.requestId,
        action,
        requestedBy: job.requestedBy,
        requestedAt: new Date(job.requestedAt),
        ...(logMaxBytes !== undefined ? { logMaxBytes } : {}),
      });
      return { decision: written ? decision : duplicate, key, installationId: Number(env.installationId) || null, written };
    },
    { maxWait: 10_000, timeout: 30_000 },
  );

  const { decision } = result;
  if ('skip' in decision) {
    logger.info({ ...log, reason: decision.skip }, `${action} no longer applies; nothing changed`);
    return `skipped: ${action} no longer applies (${decision.skip})`;
  }
  if ('duplicate' in decision || !result.written) {
    // Applied before: its follow-ups are queued again from the state as it is now, which mends a job that died
    // between its commit and queueing them (deploy and destroy job ids are deterministic, feedback deduplicated).
    if (result.key) await followUps.after(result.key);
    logger.info(log, `${action} applied before; nothing changed`);
    return 'duplicate';
  }
  const { environment, latest } = result.written;
  await followUps.ensure([{ key: result.key, installationId: result.installationId ?? null, environment, latest }]);
  logger.info({ ...log, status: environment.status }, `${action} applied`);
  return action === 'redeploy' ? `redeploy queued as deployment ${latest?.id}` : 'destroy queued';
}

/** Whether the action still applies to the environment as it is now, and what it writes when it does. */
function decide(action: EnvironmentAction, job: EnvironmentActionJob, record: PullRequestRecord, environmentId: number): Decision {
  const env = record.environment;
  if (!env || env.id !== environmentId) return { skip: 'the environment no longer belongs to its pull request' };
  if (!ACTION_APPLIES_TO[action].includes(env.status)) return { skip: `the environment is ${env.status}` };
  const by = job.requestedBy;
  const logLine = `${new Date().toISOString()} ${action} asked for by ${requesterForLogs(by)}\n`;
  if (action === 'destroy') {
    return {
      write: {
        environment: env,
        to: 'DESTROYING',
        // The superseded deployment's error, which its commit status shows; the log line above says the rest.
        supersedeReason: `destroyed ${origin(by)} by ${requesterForComment(by)}`,
        deployment: null,
        logLine,
        note: `Destroyed ${origin(by)} by ${requesterForComment(by)}. A push or a reopen brings the preview back.`,
      },
    };
  }
  const prState = record.state?.lastPrState ?? null;
  if (prState !== null && prState !== 'open') return { skip: `the pull request is ${prState}` };
  // A FAILED teardown keeps destroy_requested_at (the sweep tries it again): the preview is meant to go (a draft, a
  // removed label, the App suspended), and a redeploy must not bring it back.
  if (env.destroyRequestedAt !== null) return { skip: 'its teardown failed and is being retried' };
  return {
    write: {
      environment: env,
      to: env.status === 'FAILED' ? 'PENDING' : env.status,
      // "superseded" is what feedback reads as a deployment replaced rather than failed.
      supersedeReason: `superseded by a redeploy asked for by ${requesterForLogs(by)}`,
      deployment: { commitSha: env.commitSha, commitMessage: `redeploy asked for by @${by.login}` },
      logLine,
      note: `Redeployed ${origin(by)} by ${requesterForComment(by)}.`,
    },
  };
}

/** Where the request came from: people use the dashboard, tokens the write API. */
function origin(by: ActionRequester): string {
  return by.kind === 'token' ? 'through the API' : 'from the dashboard';
}

/** Who asked, as the deployment's logs say it: `@login (operator)`, with the kind. */
function requesterForLogs(by: ActionRequester): string {
  return `@${by.login} (${by.kind}) ${origin(by)}`;
}

/**
 * Who asked, as the pull request's comment says it. Only a GitHub login is written as an @-mention: an operator's
 * username or a token's label is no GitHub account, and mentioning it would notify whoever has that login.
 */
function requesterForComment(by: ActionRequester): string {
  const name = by.login.replace(/[`\r\n]/g, '');
  if (by.kind === 'github') return `@${name}`;
  return by.kind === 'token' ? `the API token \`${name}\`` : `the operator \`${name}\``;
}
