import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { PrismaClient } from '@ephemera/db';
import { settledDeliveries, type Logger } from '@ephemera/runtime';
import { isHandled, type AccountAllowList } from '@ephemera/schema';
import type { Counter } from 'prom-client';
import { installationAccount } from './installation-account.js';
import type { InstallationClients } from './installation-clients.js';

/** The point (GitHub's `delivered_at`) the last pass looked back to; the next pass lists deliveries back to it. */
const SEEN_UNTIL = 'deliveries_seen_until';
/** A delivery younger than this may still be on its way through ingest and the queue. */
export const IN_FLIGHT_MS = 2 * 60_000;
/** Redeliveries asked for one delivery, in all. */
const MAX_REDELIVERIES = 3;
/** How far back the first pass looks. */
const FIRST_PASS_MS = 3600_000;

export interface RedeliveryDeps {
  db: PrismaClient;
  clients: InstallationClients;
  webhooks: Queue;
  /** Where ingest records the deliveries it settled without a job (under QUEUE_PREFIX). */
  redis: Redis;
  prefix: string;
  /** ALLOWED_ACCOUNTS: deliveries of installations on other accounts are never asked for. */
  accounts: AccountAllowList;
  logger: Logger;
  requested: Counter;
  now?: () => number;
}

interface Delivery {
  id: number;
  guid: string;
  delivered_at: string;
  event: string;
  action?: string | null;
  installation_id?: number | null;
}

/**
 * Asks GitHub to redeliver what Ephemera lost. GitHub retries nothing by itself, so a delivery ingest answered
 * 503 (or never received), or one Redis lost after ingest answered 202, is gone unless asked for again. The pass
 * lists the App's deliveries newest first back to where the last pass got to, and asks again for each delivery of
 * an event Ephemera acts on that was never applied (no row in processed_deliveries) and has no job in Redis but a
 * failed one, once it is older than two minutes; at most three times per delivery, counted in the database.
 *
 * Only what was lost is asked for. A delivery ingest settled without a job (answered `ignored` because its account
 * is outside ALLOWED_ACCOUNTS, or 400 after its signature held) is recorded by ingest and never asked for: it would
 * be answered the same again. Nor is one of an installation on an account outside ALLOWED_ACCOUNTS. Every request
 * shares the App's rate limit with the calls that confirm destructive events, so none is spent in vain.
 */
export async function redeliverLost(deps: RedeliveryDeps): Promise<string> {
  const { db, clients, webhooks, logger, requested } = deps;
  const now = deps.now?.() ?? Date.now();
  const mark = await db.githubSyncState.findUnique({ where: { key: SEEN_UNTIL } });
  const since = mark ? Date.parse(mark.value) : now - FIRST_PASS_MS;
  const settled = now - IN_FLIGHT_MS;

  // Newest first, page by page, back to the mark. Attempts of one delivery share its guid.
  const octokit = clients.app();
  const byGuid = new Map<string, Delivery[]>();
  let oldestListed = now;
  for await (const { data } of octokit.paginate.iterator(octokit.rest.apps.listWebhookDeliveries, { per_page: 100 })) {
    for (const d of data as Delivery[]) {
      const at = Date.parse(d.delivered_at);
      oldestListed = Math.min(oldestListed, at);
      if (at < since) continue;
      byGuid.set(d.guid, [...(byGuid.get(d.guid) ?? []), d]);
    }
    if (oldestListed < since) break;
  }

  // A delivery is decided once its newest attempt has settled; the mark never passes one still in flight.
  const candidates = [...byGuid.entries()]
    .map(([guid, attempts]) => ({ guid, attempts, newest: Math.max(...attempts.map((a) => Date.parse(a.delivered_at))) }))
    .filter((c) => isHandled(c.attempts[0]!.event, c.attempts[0]!.action ?? undefined));
  const undecided = candidates.filter((c) => c.newest > settled).map((c) => c.newest);
  const newMark = Math.max(since, Math.min(settled, ...undecided.map((t) => t - 1)));

  const settledOnes = candidates.filter((c) => c.newest <= settled);
  const guids = settledOnes.map((c) => c.guid);
  const applied = new Set(
    guids.length === 0
      ? []
      : (await db.processedDelivery.findMany({ where: { deliveryId: { in: guids } }, select: { deliveryId: true } })).map((r) => r.deliveryId),
  );
  const unapplied = settledOnes.filter((c) => !applied.has(c.guid));
  const answered = await settledDeliveries(deps.redis, deps.prefix, unapplied.map((c) => c.guid));
  const counts = new Map(
    (await db.redeliveryRequest.findMany({ where: { guid: { in: guids } } })).map((r) => [r.guid, r.requests] as const),
  );
  const accountOf = installationAccounts(deps.accounts, octokit);
  let asked = 0;
  let skipped = 0;
  for (const c of unapplied) {
    if (answered.has(c.guid)) continue; // ignored or refused for good by ingest: not lost
    const job = await webhooks.getJob(c.guid);
    if (job && (await job.getState()) !== 'failed') continue; // queued, running, or done: not lost
    if (!(await accountOf.allows(c.attempts[0]!.installation_id))) continue;
    if ((counts.get(c.guid) ?? 0) >= MAX_REDELIVERIES) {
      skipped++;
      continue;
    }
    const latest = c.attempts.reduce((a, b) => (Date.parse(a.delivered_at) >= Date.parse(b.delivered_at) ? a : b));
    // The request is counted before it is made, by a conditional write: two passes that overlap (one outlasting
    // the interval) cannot both ask, and a delivery is never asked for more than MAX_REDELIVERIES times.
    const claimed = await db.$executeRaw`
      INSERT INTO redelivery_requests (guid, requests, last_requested_at) VALUES (${c.guid}, 1, ${new Date(now)})
      ON CONFLICT (guid) DO UPDATE SET requests = redelivery_requests.requests + 1, last_requested_at = EXCLUDED.last_requested_at
       WHERE redelivery_requests.requests < ${MAX_REDELIVERIES}
         AND redelivery_requests.last_requested_at < ${new Date(now - IN_FLIGHT_MS)}`;
    if (claimed === 0) continue;
    await octokit.rest.apps.redeliverWebhookDelivery({ delivery_id: latest.id });
    requested.inc();
    asked++;
    logger.info({ delivery_id: c.guid, event: `${latest.event}.${latest.action ?? ''}` }, 'redelivery requested');
  }
  await db.githubSyncState.upsert({
    where: { key: SEEN_UNTIL },
    create: { key: SEEN_UNTIL, value: new Date(newMark).toISOString() },
    update: { value: new Date(newMark).toISOString() },
  });
  if (skipped > 0) logger.warn({ deliveries: skipped }, `deliveries still not applied after ${MAX_REDELIVERIES} redeliveries; not asked again`);
  return `redeliveries requested ${asked}`;
}

/**
 * Whether a delivery's installation is on an account of ALLOWED_ACCOUNTS. The App's installations are listed once
 * per pass, and only when a delivery is about to be asked for under a list that does not allow every account. A
 * delivery of an installation GitHub no longer lists (uninstalled since) is asked for: ingest decides it again.
 */
function installationAccounts(accounts: AccountAllowList, octokit: ReturnType<InstallationClients['app']>) {
  let logins: Promise<Map<number, string>> | undefined;
  return {
    async allows(installationId: number | null | undefined): Promise<boolean> {
      if (accounts.any || installationId == null) return true;
      logins ??= octokit
        .paginate(octokit.rest.apps.listInstallations, { per_page: 100 })
        .then((list) => new Map(list.map((i) => [i.id, installationAccount(i)] as const)));
      const login = (await logins).get(installationId);
      return login === undefined || accounts.allows(login);
    },
  };
}
