// pnpm bench:github-calls — the GitHub API calls the worker makes for one pull request's lifecycle (opened, two
// pushes, closed) against the fake GitHub, with the default FEEDBACK_DELAY_MS: once paced (each event's work
// finished before the next arrives) and once as a burst (all four delivered at once). Every call counts against the
// App's rate limit.
import { pullRequestPayload } from '@ephemera/testkit';
import { runBench } from './bench-servers.js';

const sha = (n: number) => n.toString(16).padStart(40, 'a');
const at = (n: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, n)).toISOString().replace('.000Z', 'Z');

/** `POST /repos/{owner}/{repo}/statuses/{sha}` rather than each request's own path. */
function route(method: string, p: string): string {
  const shape = p
    .replace(/^\/repos\/[^/]+\/[^/]+/, '/repos/{owner}/{repo}')
    .replace(/\/[0-9a-f]{40}\b/, '/{sha}')
    .replace(/\/\d+(?=\/|$)/g, '/{id}')
    .replace(/\?.*$/, '');
  return `${method} ${shape}`;
}

async function main() {
  const { startHarness } = await import('../test/harness.js');

  const lifecycle = (pr: number) => [
    pullRequestPayload({ action: 'opened', number: pr, headSha: sha(pr * 10 + 1), updatedAt: at(1) }),
    pullRequestPayload({ action: 'synchronize', number: pr, headSha: sha(pr * 10 + 2), updatedAt: at(2) }),
    pullRequestPayload({ action: 'synchronize', number: pr, headSha: sha(pr * 10 + 3), updatedAt: at(3) }),
    pullRequestPayload({ action: 'closed', number: pr, headSha: sha(pr * 10 + 3), updatedAt: at(4) }),
  ];
  const rows: Array<{ mode: string; counts: Map<string, number>; total: number }> = [];
  for (const mode of ['paced', 'burst'] as const) {
    const h = await startHarness({ feedbackDelayMs: Number(process.env.FEEDBACK_DELAY_MS ?? 1_000) });
    try {
      const events = lifecycle(1);
      if (mode === 'paced') {
        for (const e of events) {
          await h.deliver(e);
          await h.drain();
        }
      } else {
        for (const e of events) await h.deliver(e);
        await h.drain();
      }
      const env = await h.db.environment.findFirstOrThrow({ where: { prNumber: 1 } });
      if (env.status !== 'DESTROYED') throw new Error(`${mode}: the environment ended ${env.status}, not DESTROYED`);
      const counts = new Map<string, number>();
      // Token exchanges are the App's own calls, not the installation's rate limit; they are listed apart.
      for (const r of h.fakeGithub!.requests) counts.set(route(r.method, r.path), (counts.get(route(r.method, r.path)) ?? 0) + 1);
      const total = [...counts].filter(([k]) => !k.includes('/access_tokens')).reduce((n, [, c]) => n + c, 0);
      rows.push({ mode, counts, total });
    } finally {
      await h.close();
    }
  }

  const keys = [...new Set(rows.flatMap((r) => [...r.counts.keys()]))].sort();
  process.stdout.write(`GitHub API calls for one pull request: opened, two pushes, closed\n\n`);
  process.stdout.write(`${'call'.padEnd(64)} ${rows.map((r) => r.mode.padStart(6)).join(' ')}\n`);
  for (const k of keys) process.stdout.write(`${k.padEnd(64)} ${rows.map((r) => String(r.counts.get(k) ?? 0).padStart(6)).join(' ')}\n`);
  process.stdout.write(`${'total (without token exchanges)'.padEnd(64)} ${rows.map((r) => String(r.total).padStart(6)).join(' ')}\n`);
  process.stdout.write(`bench-result ${JSON.stringify(rows.map((r) => ({ bench: 'github-calls', measure: r.mode, calls: r.total })))}\n`);
}

runBench('github-calls', main);
