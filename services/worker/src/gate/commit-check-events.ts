import { recordCommitCheck, type PrismaClient } from '@ephemera/db';
import type { CommitCheckJob } from '@ephemera/schema';
import type { FollowUps } from '../follow-ups.js';
import { parseGateChecks } from './gate-rules.js';

/**
 * A check of a commit concluded (check_run, check_suite, workflow_run, status): the deployments of that commit that
 * wait for their checks, or whose gate failed (a re-run may have passed), look at their gate again. One indexed
 * statement records the delivery and finds them; most deliveries concern none and cost nothing more. A check run or
 * status names its check, and only deployments waiting for that name look; a suite or a workflow run names none, so
 * all of the commit's look. The look itself (GitHub's answer, the gate's verdict) is the deploy step's.
 */
export async function processCommitCheck(deps: { db: PrismaClient; followUps: FollowUps }, job: CommitCheckJob): Promise<'applied' | 'duplicate'> {
  const { fresh, matches } = await recordCommitCheck(
    deps.db,
    { deliveryId: job.deliveryId, event: job.event, action: job.action },
    { repositoryId: job.repository.id, sha: job.sha },
  );
  const concerned = matches.filter((m) => job.name === null || (parseGateChecks(m.gateChecks) ?? []).some((c) => c.name === job.name));
  await Promise.all(concerned.map((m) => deps.followUps.gateCheck({ environmentId: m.environmentId, deploymentId: m.deploymentId })));
  return fresh ? 'applied' : 'duplicate';
}
