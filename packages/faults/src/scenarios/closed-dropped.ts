import { randomUUID } from 'node:crypto';
import { pullRequestPayload, signedDelivery, type SignedDelivery } from '@ephemera/testkit';
import { check, unexpectedAnswers, waitForQuiet } from '../check.js';
import { deliverThroughGithub, type Expected } from '../deliveries.js';
import { RESYNC_INTERVAL_MS, SECRET, sleep, type Stack } from '../stack.js';
import type { Scenario } from './context.js';

/**
 * A repository of its own, the only one the fake GitHub's installation lists: the resync reconciles the PRs of
 * the repositories GitHub lists, and the other scenarios' PRs (of GitHub's example repository) stay out of it.
 */
const REPOSITORY = 'Codertocat/closed-dropped';
const INSTALLATION_ID = 1;
const FIRST_PR = 60_000;

const hex = (n: number) => n.toString(16).padStart(40, '0');
const at = (n: number) => new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString().replace('.000Z', 'Z');

/**
 * Pull requests opened (delivered as usual), then every other one closed on GitHub with its `closed` delivery
 * dropped: never sent, not even logged as a failed attempt, so no redelivery can bring it. The workers' resync
 * pass, reading GitHub's open pull requests, destroys the previews of the closed ones as a `closed` event would,
 * and leaves the open ones as they were (no deployment, no state change).
 */
export const closedDropped: Scenario = {
  name: 'closed-dropped',
  async run({ stack, ingest, full }) {
    const { github } = stack;
    github.setWebhook(`http://127.0.0.1:${ingest.port}/api/v1/webhooks/github`, SECRET);
    const prs = full ? 300 : 40;
    const opened: Array<{ number: number; payload: Record<string, unknown>; delivery: SignedDelivery }> = [];
    for (let number = FIRST_PR; number < FIRST_PR + prs; number++) {
      const payload = pullRequestPayload({
        action: 'opened',
        number,
        repository: REPOSITORY,
        headSha: hex(number),
        updatedAt: at(number),
        title: `Change ${number}`,
      });
      opened.push({ number, payload, delivery: await signedDelivery(SECRET, 'pull_request', payload, { deliveryId: randomUUID() }) });
    }
    const ids = opened.map((o) => o.delivery.deliveryId);
    const sent = await deliverThroughGithub(github, opened.map((o) => o.delivery));
    const problems = unexpectedAnswers(sent.statuses);
    await waitForQuiet(stack, ids, 120_000, problems);

    // GitHub's record: every PR open as delivered, the repository reachable by the installation.
    github.setInstallation(INSTALLATION_ID, 'active');
    github.setInstallationRepositories(INSTALLATION_ID, [REPOSITORY]);
    for (const o of opened) github.setPullRequest(REPOSITORY, o.payload.pull_request as Record<string, unknown>);
    const closing = opened.filter((o) => o.number % 2 === 0);
    const staying = opened.filter((o) => o.number % 2 !== 0);
    const before = await snapshot(stack, staying.map((o) => o.number));

    // Closed on GitHub; the `closed` deliveries are dropped.
    for (const o of closing) {
      const pr = o.payload.pull_request as Record<string, unknown>;
      github.setPullRequest(REPOSITORY, { ...pr, state: 'closed', closed_at: at(o.number + 5), updated_at: at(o.number + 5) });
    }
    const converged = await waitForDestroyed(stack, closing.map((o) => o.number), 120_000);
    if (converged < 0) problems.push('the closed PRs\' previews were not all destroyed within 120 s');
    await waitForQuiet(stack, ids, 120_000, problems);

    const after = await snapshot(stack, staying.map((o) => o.number));
    const touched = [...before].filter(([pr, row]) => after.get(pr) !== row).map(([pr]) => pr);
    if (touched.length > 0) problems.push(`${touched.length} open PR(s) changed by the resync (first: #${touched[0]}: ${before.get(touched[0]!)} → ${after.get(touched[0]!)})`);
    // GitHub's log of this repository's deliveries holds the opened ones (and redeliveries of them) only, so the
    // previews went by the resync. (Filtering by the opened ones' ids could never find a closed one.)
    const ofRepository = github.deliveries.filter((d) => (d.payload.repository as { full_name?: string } | undefined)?.full_name === REPOSITORY);
    if (ofRepository.length < opened.length) problems.push(`GitHub's log holds ${ofRepository.length} deliveries of ${REPOSITORY}, fewer than were opened`);
    const others = ofRepository.filter((d) => d.event !== 'pull_request' || d.action !== 'opened');
    if (others.length > 0) problems.push(`${others.length} deliveries other than opened were sent (first: ${others[0]!.event}.${others[0]!.action})`);

    const expected = new Map<number, Expected>(
      opened.map((o) => [o.number, { status: o.number % 2 === 0 ? 'DESTROYED' : 'READY', commitSha: hex(o.number), title: `Change ${o.number}` }]),
    );
    return check(stack, `${closing.length} PRs closed, closed deliveries dropped; resync`, opened.length, sent.accepted, expected, {
      problems,
      detail:
        `${closing.length} previews destroyed by the resync ${(converged / 1000).toFixed(1)} s after GitHub closed their PRs ` +
        `(resync every ${RESYNC_INTERVAL_MS / 1000} s); ${staying.length} open ones untouched`,
    });
  },
};

/** Each PR's environment and pull request state, as one comparable line: what the resync must not change. */
async function snapshot(stack: Stack, prs: number[]): Promise<Map<number, string>> {
  const { rows } = await stack.db.query<{ pr_number: number; line: string }>(
    `SELECT e.pr_number,
            concat_ws(' ', e.status, e.commit_sha, e.updated_at, s.last_event_at,
                      (SELECT count(*) FROM deployments d WHERE d.environment_id = e.id)) AS line
       FROM environments e
       LEFT JOIN pull_request_states s ON s.repository_full_name = e.repository_full_name AND s.pr_number = e.pr_number
      WHERE e.repository_full_name = $1 AND e.pr_number = ANY($2)`,
    [REPOSITORY, prs],
  );
  return new Map(rows.map((r) => [r.pr_number, r.line]));
}

/** Milliseconds until every PR's environment is DESTROYED, or -1 when the time is up. */
async function waitForDestroyed(stack: Stack, prs: number[], timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const { rows } = await stack.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM environments WHERE repository_full_name = $1 AND pr_number = ANY($2) AND status = 'DESTROYED'",
      [REPOSITORY, prs],
    );
    if (rows[0]!.n === prs.length) return Date.now() - started;
    if (Date.now() - started > timeoutMs) return -1;
    await sleep(250);
  }
}
