import { UnrecoverableError, type Job } from 'bullmq';
import type { PrismaClient } from '@ephemera/db';
import type { Logger } from '@ephemera/runtime';
import { webhookJobSchema, type WebhookJob, type WebhookJobName } from '@ephemera/schema';
import type { FollowUps } from '../follow-ups.js';
import type { GithubChecks } from '../github/github-checks.js';
import { NO_FACTS, type DeliveryFacts, type WebhookHandler } from '../handlers/handler.js';
import type { WorkerMetrics } from '../metrics.js';
import { isFromFork, type PreviewSettings } from '../pull-request-reconciler.js';
import type { Touched } from '../touched.js';

export interface WebhookProcessorDeps {
  db: PrismaClient;
  registry: ReadonlyMap<WebhookJobName, WebhookHandler>;
  settings: PreviewSettings;
  followUps: FollowUps;
  logger: Logger;
  metrics: WorkerMetrics;
  checks: GithubChecks;
}

export type WebhookOutcome = 'applied' | 'duplicate' | 'stale';

/**
 * Applies one delivery. The delivery id is recorded in processed_deliveries in the same transaction as the
 * state change, so a delivery seen again (BullMQ retry after a crash, GitHub redelivery) changes nothing.
 * Follow-up jobs are queued after the commit, from the committed state, also for a duplicate: that is how a
 * crash between commit and queueing is mended.
 */
export function createWebhookProcessor(deps: WebhookProcessorDeps) {
  const { db, registry, settings, followUps, logger, metrics, checks } = deps;
  return async function processWebhook(job: Job): Promise<WebhookOutcome> {
    const parsed = webhookJobSchema.safeParse(job.data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      logger.error({ job_id: job.id, name: job.name, issue: `${issue?.path.join('.')}: ${issue?.message}` }, 'invalid webhook job');
      throw new UnrecoverableError(`invalid webhook job: ${issue?.path.join('.')}: ${issue?.message}`);
    }
    const data = parsed.data;
    const name = `${data.event}.${data.action}` as WebhookJobName;
    const handler = registry.get(name);
    if (!handler) throw new UnrecoverableError(`no handler for ${name}`);
    if (data.installationId === null) {
      metrics.withoutInstallation.inc();
      logger.warn(
        { delivery_id: data.deliveryId, event: name },
        'delivery from a repository webhook, not the GitHub App: state is kept, but GitHub feedback cannot be sent',
      );
    }

    // GitHub is asked what the delivery depends on before the transaction: no network call runs inside one.
    const facts = await gatherFacts(checks, settings, data);
    const result = await db.$transaction(
      async (tx) => {
        const fresh = await tx.$executeRaw`
          INSERT INTO processed_deliveries (delivery_id, event, action)
          VALUES (${data.deliveryId}, ${data.event}, ${data.action})
          ON CONFLICT (delivery_id) DO NOTHING`;
        if (fresh === 0) return { outcome: 'duplicate' as const, touched: prKeys(data) };
        const touched = await handler.handle({ tx, settings, logger, facts }, data);
        const outcome: WebhookOutcome = touched.length > 0 && touched.every((t) => t.stale) ? 'stale' : 'applied';
        return { outcome, touched };
      },
      { maxWait: 10_000, timeout: 30_000 },
    );
    await followUps.ensure(result.touched);
    logger.debug({ delivery_id: data.deliveryId, event: name, outcome: result.outcome }, 'delivery processed');
    return result.outcome;
  };
}

/**
 * What GitHub says that a delivery's effect depends on: for a pull request from a fork, whether the sender may
 * put code into a preview (asked only for the events that can bring new code or approve it); for destructive
 * installation events, whether GitHub confirms them.
 */
async function gatherFacts(checks: GithubChecks, settings: PreviewSettings, data: WebhookJob): Promise<DeliveryFacts> {
  if (data.event === 'pull_request') {
    const bringsCode = data.action === 'opened' || data.action === 'synchronize';
    const approves = data.action === 'labeled' && data.label === settings.approveLabel;
    if (!isFromFork(data.pullRequest) || !(bringsCode || approves)) return NO_FACTS;
    const senderTrusted =
      data.sender.type !== 'Bot' && data.installationId !== null && (await checks.canWrite(data.installationId, data.repository.fullName, data.sender.login));
    return { ...NO_FACTS, senderTrusted };
  }
  if (data.event === 'installation') {
    if (data.action !== 'deleted' && data.action !== 'suspend') return NO_FACTS;
    return { ...NO_FACTS, installationState: await checks.installationState(data.installationId) };
  }
  const reachable = await checks.installationRepositories(data.installationId);
  return { ...NO_FACTS, confirmedRemoved: reachable === null ? null : data.repositoriesRemoved.filter((r) => !reachable.has(r.toLowerCase())) };
}

/** The pull requests a delivery is about, for re-ensuring follow-ups of a duplicate. */
function prKeys(data: { event: string; installationId: number | null } & Record<string, unknown>): Touched[] {
  if (data.event !== 'pull_request') return [];
  const d = data as unknown as { repository: { fullName: string }; pullRequest: { number: number } };
  return [
    {
      repositoryFullName: d.repository.fullName,
      prNumber: d.pullRequest.number,
      installationId: data.installationId,
      superseded: [],
      note: null,
    },
  ];
}
