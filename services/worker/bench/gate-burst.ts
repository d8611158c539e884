// pnpm bench:gate-burst — how long a pull_request delivery waits behind a burst of 1,000 check_run.completed
// deliveries that concern no waiting deployment (CI finishing checks across an organisation), compared with the same
// delivery on an idle queue, measured in the same run, alternating. Check deliveries are queued as ingest queues
// them (a lower priority than pull request deliveries); the same burst queued without that priority is measured too,
// to show what the priority is for. Target: a pull request delivery is delayed by at most 2 s.
import { randomUUID } from 'node:crypto';
import { checkRunPayload, pullRequestPayload } from '@ephemera/testkit';
import { QUEUES, WEBHOOK_JOB_OPTIONS, trimWebhookPayload, webhookJobName, webhookJobOptions } from '@ephemera/schema';
import { runBench } from './bench-servers.js';

const BURST = Number(process.env.BENCH_BURST ?? 1_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const sha = (n: number) => n.toString(16).padStart(40, 'c');
const at = (n: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, n)).toISOString().replace('.000Z', 'Z');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const { startHarness } = await import('../test/harness.js');
  const h = await startHarness({ github: false });
  try {
    // Waiting deployments of other commits, so each check delivery's query runs against a table that has some.
    await h.db.$executeRawUnsafe(`
      WITH e AS (
        INSERT INTO environments (repository_id, repository_full_name, repository_name, pr_number, branch_name, commit_sha, namespace, installation_id, updated_at)
        SELECT 500 + g, 'acme/app-' || g, 'app-' || g, 1, 'b', repeat('d', 40), 'burst-' || g, 1, now() FROM generate_series(1, 200) g RETURNING id)
      INSERT INTO deployments (environment_id, commit_sha, status, gate_checks, waiting_since, gate_deadline, gate_waiting_for, updated_at)
      SELECT id, repeat('d', 40), 'WAITING', '[{"kind":"any","name":"build"}]', now(), now() + interval '1 hour', '\`build\`', now() FROM e`);

    let pr = 0;
    /** One pull_request delivery: queued at once, timed from its add until the worker has applied it. */
    const timePullRequest = async (burst: 'none' | 'prioritized' | 'fifo'): Promise<number> => {
      pr++;
      if (burst !== 'none') {
        const jobs = Array.from({ length: BURST }, (_, i) => {
          const job = trimWebhookPayload(
            { event: 'check_run', deliveryId: randomUUID(), receivedAt: new Date() },
            checkRunPayload({ repository: `acme/other-${i % 50}`, sha: sha(pr * 10_000 + i), name: 'build', conclusion: 'success' }),
          )!;
          const opts = burst === 'prioritized' ? webhookJobOptions(job) : WEBHOOK_JOB_OPTIONS;
          return { name: webhookJobName(job), data: h.sign(QUEUES.webhooks, webhookJobName(job), job), opts: { ...opts, jobId: job.deliveryId } };
        });
        await h.queues.webhooks.addBulk(jobs);
      }
      const deliveryId = randomUUID();
      const started = performance.now();
      await h.deliver(pullRequestPayload({ action: 'opened', number: pr, repository: 'acme/bench', headSha: sha(pr), updatedAt: at(1) }), 'pull_request', deliveryId);
      for (;;) {
        if (await h.db.processedDelivery.findUnique({ where: { deliveryId }, select: { deliveryId: true } })) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      const ms = performance.now() - started;
      await h.drain(120_000);
      return ms;
    };

    const results: Record<'none' | 'prioritized' | 'fifo', number[]> = { none: [], prioritized: [], fifo: [] };
    await timePullRequest('none'); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of ['none', 'prioritized', 'fifo'] as const) results[mode].push(await timePullRequest(mode));
    }
    const idle = median(results.none);
    const shipped = median(results.prioritized);
    const fifo = median(results.fifo);
    process.stdout.write(`A pull_request delivery queued right after ${BURST} unrelated check_run.completed deliveries (${ROUNDS} rounds, medians, ms)\n\n`);
    process.stdout.write(`${'queue'.padEnd(52)} ${'applied after'.padStart(14)} ${'delay vs idle'.padStart(14)}\n`);
    const row = (label: string, ms: number) => process.stdout.write(`${label.padEnd(52)} ${ms.toFixed(0).padStart(14)} ${(ms - idle).toFixed(0).padStart(14)}\n`);
    row('idle (no burst)', idle);
    row('burst queued as ingest queues it (lower priority)', shipped);
    row('burst queued first-in first-out (no priority)', fifo);
    process.stdout.write(`\nevery round: idle ${results.none.map((x) => x.toFixed(0)).join(', ')}; prioritized ${results.prioritized.map((x) => x.toFixed(0)).join(', ')}; fifo ${results.fifo.map((x) => x.toFixed(0)).join(', ')}\n`);
    const delay = shipped - idle;
    process.stdout.write(`target: delay at most 2000 ms — ${delay <= 2_000 ? 'met' : 'NOT met'} (${delay.toFixed(0)} ms)\n`);
    process.stdout.write(`bench-result ${JSON.stringify({ bench: 'gate-burst', burst: BURST, idleMs: Math.round(idle), prioritizedMs: Math.round(shipped), fifoMs: Math.round(fifo), delayMs: Math.round(delay) })}\n`);
  } finally {
    await h.close();
  }
}

runBench('gate-burst', main);
