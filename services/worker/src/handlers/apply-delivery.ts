import { recordDelivery } from '@ephemera/db';
import { isPullRequestEventJob, webhookJobName, type CommitCheckJob, type PullRequestEventJob, type PullRequestJob, type WebhookJob } from '@ephemera/schema';
import type { JobContext } from '../jobs/job-context.js';
import {
  ConcurrentChange,
  NeedsTransaction,
  SameSecondConflict,
  StaleApproval,
  pullRequestKey,
  type SnapshotAuthority,
} from '../pull-request-reconciler.js';
import { touchedPullRequest, type Touched } from '../touched.js';
import { gatherFacts } from './delivery-facts.js';
import type { DeliveryFacts, HandlerContext, WebhookHandler } from './handler.js';

/** What applying a delivery needs of the job context. */
export type DeliveryDeps = Pick<JobContext, 'db' | 'settings' | 'followUps' | 'logger' | 'metrics' | 'checks'>;

export type WebhookOutcome = 'applied' | 'duplicate' | 'stale';

/** A delivery applied to the state: a pull request's or an installation's. */
export type StateJob = Exclude<WebhookJob, CommitCheckJob>;

/**
 * Applies a delivery with its handler, in one transaction: the delivery id is recorded in processed_deliveries
 * (taking the pull request's lock in the same statement), so a delivery seen again (BullMQ retry after a crash,
 * GitHub redelivery) changes nothing, and the handler's writes commit with it. Follow-up jobs are queued after the
 * commit from what the transaction left, also for a duplicate (read then): that is how a crash between commit and
 * queueing is mended.
 *
 * A pull_request event of the same second as the last applied one that disagrees with it cannot be ordered by
 * its timestamp: its transaction is rolled back, GitHub is asked for the pull request as it is now (outside any
 * transaction), and that is applied instead. So is a review's approval or dismissal older than what was applied:
 * it vouches for the commit reviewed whatever the snapshot's age, and is weighed against the pull request as it is.
 */
export async function applyDelivery<J extends StateJob>(deps: DeliveryDeps, handlerOfJob: WebhookHandler<J>, data: J): Promise<WebhookOutcome> {
  // The delivery may be applied again as GitHub's snapshot of the same pull request: the same kind of job.
  const handler = handlerOfJob as WebhookHandler;
  const { db, settings, followUps, logger, metrics, checks } = deps;
  const name = webhookJobName(data);
  if (data.installationId === null) {
    metrics.withoutInstallation.inc();
    logger.warn(
      { delivery_id: data.deliveryId, event: name },
      'delivery from a repository webhook, not the GitHub App: state is kept, but GitHub feedback cannot be sent',
    );
  }

  // GitHub is asked what the delivery depends on before the transaction: no network call runs inside one.
  const facts = await gatherFacts(checks, settings, data);
  const apply = (job: WebhookJob, jobFacts: DeliveryFacts, authority: SnapshotAuthority) =>
    db.$transaction(
      async (tx) => {
        const lock = isPullRequestEventJob(job) ? pullRequestKey(job) : null;
        const fresh = await recordDelivery(tx, { deliveryId: job.deliveryId, event: job.event, action: job.action }, lock);
        if (!fresh) return { outcome: 'duplicate' as const, touched: lock ? [touchedPullRequest(lock, job.installationId)] : [] };
        const ctx: HandlerContext = { tx, settings, logger, facts: jobFacts, locked: lock !== null, authority };
        const touched: Touched[] = await handler(ctx, job);
        const outcome: WebhookOutcome = touched.length > 0 && touched.every((t) => t.stale) ? 'stale' : 'applied';
        return { outcome, touched };
      },
      { maxWait: 10_000, timeout: 30_000 },
    );

  let result;
  try {
    result = (isPullRequestEventJob(data) ? await applyOptimistically(deps, handler, data, facts) : null) ?? (await apply(data, facts, 'event'));
  } catch (err) {
    if (!(err instanceof SameSecondConflict || err instanceof StaleApproval) || !isPullRequestEventJob(data)) throw err;
    const current = await checks.pullRequest(data.installationId, data.repository, data.pullRequest.number);
    if (current === null && err instanceof StaleApproval) {
      // An older snapshot is never applied over a newer one: without GitHub's word the review changes nothing.
      logger.warn({ delivery_id: data.deliveryId, event: name, stale: err.message }, 'a review older than what was applied and GitHub cannot be asked; not applied');
      const fresh = await recordDelivery(db, { deliveryId: data.deliveryId, event: data.event, action: data.action }, null);
      result = { outcome: fresh ? ('stale' as const) : ('duplicate' as const), touched: NOTHING_TOUCHED };
    } else if (current === null) {
      logger.warn({ delivery_id: data.deliveryId, event: name, conflict: err.message }, 'same-second conflict and GitHub cannot be asked; applied in arrival order');
      result = await apply(data, facts, 'arrival');
    } else {
      if (err instanceof SameSecondConflict) metrics.sameSecondResolved.inc();
      const what = err instanceof SameSecondConflict ? 'same-second conflict settled by GitHub' : 'older review weighed against GitHub\'s pull request';
      logger.info({ delivery_id: data.deliveryId, event: name, conflict: err.message, github_says: `${current.state} ${current.headSha.slice(0, 7)}` }, what);
      result = await apply(...withGithubSnapshot(data, current, facts), 'github');
    }
  }
  await followUps.ensure(result.touched.filter((t) => !t.stale));
  logger.debug({ delivery_id: data.deliveryId, event: name, outcome: result.outcome }, 'delivery processed');
  return result.outcome;
}

const NOTHING_TOUCHED: Touched[] = [];

/** Attempts of an optimistic application before the transaction under the lock decides. */
const OPTIMISTIC_ATTEMPTS = 3;

/**
 * Applies a pull_request delivery without a transaction: the PR is read, the decision made, and one statement takes
 * the PR's lock, checks that what was read is unchanged, records the delivery and writes. That is two statements
 * where a transaction needs five round trips, and pull requests rarely see two events at once. When the PR changed
 * in between, it is read and decided again; null when the transaction must decide (contention, a row from before
 * repository ids were kept, a repository's capacity).
 */
async function applyOptimistically(deps: DeliveryDeps, handler: WebhookHandler, data: PullRequestEventJob, facts: DeliveryFacts) {
  const delivery = { deliveryId: data.deliveryId, event: data.event, action: data.action };
  const key = pullRequestKey(data);
  for (let attempt = 0; attempt < OPTIMISTIC_ATTEMPTS; attempt++) {
    try {
      const [touched] = await handler({ tx: deps.db, settings: deps.settings, logger: deps.logger, facts, optimistic: { delivery } }, data);
      if (touched?.stale) {
        // Older than what was applied, which only moves forward: recorded as seen, and nothing else.
        const fresh = await recordDelivery(deps.db, delivery, null);
        return { outcome: fresh ? ('stale' as const) : ('duplicate' as const), touched: [] };
      }
      if (!touched || touched.duplicate) return { outcome: 'duplicate' as const, touched: [touchedPullRequest(key, data.installationId)] };
      return { outcome: 'applied' as const, touched: [touched] };
    } catch (err) {
      if (err instanceof ConcurrentChange) continue;
      if (err instanceof NeedsTransaction) return null;
      throw err;
    }
  }
  return null;
}

/**
 * The delivery with GitHub's current record of the pull request in place of the event's. The sender's trust and a
 * label's approval vouch for the head the event named: they carry over only when GitHub's head is still that
 * commit. A review's approval names its commit itself (`review.commit_id`), which is weighed against GitHub's head.
 */
function withGithubSnapshot(job: PullRequestEventJob, current: PullRequestJob['pullRequest'], facts: DeliveryFacts): [PullRequestEventJob, DeliveryFacts] {
  if (job.event === 'pull_request_review') return [{ ...job, pullRequest: current }, facts];
  const sameCommit = current.headSha === job.pullRequest.headSha;
  return [
    { ...job, pullRequest: current, ...(sameCommit ? {} : { label: null }) },
    sameCommit ? facts : { ...facts, senderTrusted: false },
  ];
}
