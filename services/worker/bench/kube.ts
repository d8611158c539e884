// pnpm bench:kube — what a deploy costs the Kubernetes API and how soon a finished rollout is seen, against the
// fake API server, with the README's two-service example (web with a port and a readiness probe, worker without):
//  1. API requests per deploy for a rollout that takes 60 s and for one that takes 600 s (on a scaled clock: a
//     Kubernetes second lasts BENCH_SECOND_MS, the same for the fake's controllers and the worker's timers), against
//     the objects applied. Targets: at most the objects applied + 10, and + 20.
//  2. The worker's own latency, from the fake controller marking a rollout complete to the environment READY in the
//     database, at 10 deploys a second (real clock). Target: p99 at most 1 s.
import { rmSync } from 'node:fs';
import { pullRequestPayload, startFakeKubernetes, type FakeKubernetes } from '@ephemera/testkit';
import { kubeProvisionerFor } from '../test/kube-provisioner.js';
import { runBench } from './bench-servers.js';

const SECOND_MS = Number(process.env.BENCH_SECOND_MS ?? 10);
const DEPLOYS = Number(process.env.BENCH_DEPLOYS ?? 100);
const RATE = Number(process.env.BENCH_RATE ?? 10);
const at = (n: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, n)).toISOString().replace('.000Z', 'Z');
const sha = (n: number) => n.toString(16).padStart(40, 'b');
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

/** The README's two-service example. */
const config = (timeoutSeconds: number) => `version: 1
services:
  web:
    image: ghcr.io/acme/web:{{sha}}
    port: 3000
    env: { PUBLIC_URL: "{{url}}" }
    health: { path: /healthz }
  worker:
    image: ghcr.io/acme/worker:{{short_sha}}
expose: web
timeout_seconds: ${timeoutSeconds}
`;

async function main() {
  const { startHarness } = await import('../test/harness.js');
  const dirs: string[] = [];
  const rows: Array<{ wait: number; requests: number; applied: number; kinds: string }> = [];

  // 1. Requests per deploy, on the scaled clock; the old polling code polled every 2 s of that clock.
  for (const waitSeconds of [60, 600]) {
    const fake: FakeKubernetes = await startFakeKubernetes({ secondMs: SECOND_MS, controllerDelayMs: 5, rollout: () => ({ readiness: { passAfterSeconds: waitSeconds } }) });
    const h = await startHarness({ provisionerFor: kubeProvisionerFor(fake, {}, dirs, { secondMs: SECOND_MS, pollMs: 2 * SECOND_MS }) });
    try {
      h.fakeGithub!.setFile('acme/bench', sha(waitSeconds), '.ephemera.yml', config(waitSeconds + 300));
      await h.deliver(pullRequestPayload({ action: 'opened', number: waitSeconds, repository: 'acme/bench', headSha: sha(waitSeconds), updatedAt: at(1) }));
      await h.drain(600_000);
      const env = await h.db.environment.findFirstOrThrow({ where: { prNumber: waitSeconds } });
      if (env.status !== 'READY') throw new Error(`the ${waitSeconds} s rollout ended ${env.status}: ${env.errorMessage}`);
      const mine = fake.requests.filter((r) => r.namespace === env.namespace || r.name === env.namespace);
      const applied = mine.filter((r) => r.verb === 'patch' && r.contentType === 'application/apply-patch+yaml').length;
      const kinds = new Map<string, number>();
      for (const r of mine) kinds.set(`${r.verb} ${r.resource}`, (kinds.get(`${r.verb} ${r.resource}`) ?? 0) + 1);
      rows.push({ wait: waitSeconds, requests: mine.length, applied, kinds: [...kinds].map(([k, n]) => `${k} ${n}`).join(', ') });
    } finally {
      await h.close();
      await fake.close();
    }
  }

  // 2. READY latency at RATE deploys a second, on the real clock.
  const fake = await startFakeKubernetes({ controllerDelayMs: 20 });
  const h = await startHarness({ provisionerFor: kubeProvisionerFor(fake, {}, dirs, { secondMs: 1_000, pollMs: 2_000 }), concurrency: 8 });
  const latencies: number[] = [];
  try {
    const started = Date.now();
    for (let i = 0; i < DEPLOYS; i++) {
      const pr = 1_000 + i;
      h.fakeGithub!.setFile('acme/latency', sha(pr), '.ephemera.yml', config(120));
      await h.deliver(pullRequestPayload({ action: 'opened', number: pr, repository: 'acme/latency', headSha: sha(pr), updatedAt: at(1) }));
      const next = started + ((i + 1) * 1000) / RATE;
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    }
    await h.drain(600_000);
    for (const env of await h.db.environment.findMany({ where: { repositoryFullName: 'acme/latency' } })) {
      if (env.status !== 'READY' || !env.lastDeployedAt) throw new Error(`${env.namespace} ended ${env.status}: ${env.errorMessage}`);
      const done = fake.rolloutsCompleted.filter((c) => c.namespace === env.namespace).map((c) => c.at);
      if (done.length < 2) throw new Error(`${env.namespace}: the fake marked ${done.length} of 2 rollouts complete`);
      latencies.push(env.lastDeployedAt.getTime() - Math.max(...done));
    }
  } finally {
    await h.close();
    await fake.close();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  }

  process.stdout.write('Kubernetes API requests per deploy of the README example (8 objects), by how long the rollout takes\n\n');
  for (const r of rows) {
    const target = r.wait === 60 ? 10 : 20;
    process.stdout.write(`${String(r.wait).padStart(4)} s rollout: ${r.requests} requests, ${r.applied} objects applied, ${r.requests - r.applied} besides (target ≤ ${target}: ${r.requests - r.applied <= target ? 'met' : 'NOT met'})\n`);
    process.stdout.write(`       ${r.kinds}\n`);
  }
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  process.stdout.write(`\nrollout complete → environment READY, ${latencies.length} deploys at ${RATE}/s: p50 ${p50} ms, p99 ${p99} ms, max ${Math.max(...latencies)} ms (target p99 ≤ 1000 ms: ${p99 <= 1_000 ? 'met' : 'NOT met'})\n`);
  process.stdout.write(`bench-result ${JSON.stringify({ bench: 'kube', requests: Object.fromEntries(rows.map((r) => [`${r.wait}s`, { requests: r.requests, applied: r.applied }])), readyLatencyMs: { p50, p99 } })}\n`);
}

runBench('kube', main);
