import { Queue } from 'bullmq';
import { ALL_QUEUES, QUEUES } from '@ephemera/schema';
import type { Expected } from './deliveries.js';
import type { Stack } from './stack.js';

export interface Outcome {
  scenario: string;
  sent: number;
  accepted: number;
  applied: number;
  lost: number;
  pass: boolean;
  detail: string;
}

/** Every queue Ephemera uses, opened once for the polls of a wait; close them with {@link closeQueues}. */
export function openQueues(redisUrl: string): Queue[] {
  return ALL_QUEUES.map((name) => new Queue(name, { connection: { url: redisUrl }, prefix: 'ephemera' }));
}

export async function closeQueues(queues: Queue[]): Promise<void> {
  await Promise.all(queues.map((q) => q.close()));
}

/** The queues whose sweeps and passes run on job schedulers. */
const SCHEDULED = new Set<string>([QUEUES.cleanup, QUEUES.githubSync]);

/**
 * Jobs not yet finished across the queues, and a description of the busy ones (for the message when a wait
 * times out). The queues with job schedulers (clean-up, GitHub sync) always hold each scheduler's next run as a
 * delayed job; those do not count.
 */
export async function queueDepth(queues: Queue[]): Promise<{ depth: number; busy: string[] }> {
  const busy: string[] = [];
  const counts = await Promise.all(
    queues.map(async (q) => {
      const c = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
      if (SCHEDULED.has(q.name)) c.delayed = Math.max(0, (c.delayed ?? 0) - (await q.getJobSchedulersCount()));
      const n = Object.values(c).reduce((a, b) => a + b, 0);
      if (n > 0) busy.push(`${q.name} ${JSON.stringify(c)}`);
      return n;
    }),
  );
  return { depth: counts.reduce((a, b) => a + b, 0), busy };
}

/**
 * Waits until every queue is empty and every accepted delivery is recorded as processed, or the time is up.
 * Returns the milliseconds it took, or -1 on timeout after adding the reason to `problems` when given.
 */
export async function waitForQuiet(stack: Stack, acceptedIds: string[], timeoutMs: number, problems?: string[]): Promise<number> {
  const started = Date.now();
  const unique = [...new Set(acceptedIds)];
  const queues = openQueues(stack.redisUrl);
  try {
    for (;;) {
      const { depth, busy } = await queueDepth(queues).catch(() => ({ depth: -1, busy: ['(Redis unreachable)'] }));
      const { rows } = await stack.db
        .query<{ n: number }>('SELECT count(*)::int AS n FROM processed_deliveries WHERE delivery_id = ANY($1)', [unique])
        .catch(() => ({ rows: [{ n: -1 }] }));
      if (depth === 0 && rows[0]!.n === unique.length) return Date.now() - started;
      if (Date.now() - started > timeoutMs) {
        problems?.push(
          `not settled within ${timeoutMs / 1000} s: ${depth} jobs unfinished (${busy.join('; ') || 'queues empty'}), ${rows[0]!.n} of ${unique.length} deliveries applied`,
        );
        return -1;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await closeQueues(queues);
  }
}

/** A problem line when ingest answered anything but the `allowed` statuses (by default only 202). */
export function unexpectedAnswers(statuses: Record<string, number>, allowed: readonly string[] = ['202'], when = ''): string[] {
  return Object.keys(statuses).some((s) => !allowed.includes(s))
    ? [`answers other than ${allowed.join('/')}${when}: ${JSON.stringify(statuses)}`]
    : [];
}

/**
 * The invariants after a scenario: every accepted delivery applied exactly once (the processed-deliveries
 * table has one row per delivery id by its key), every PR in the state a calm, in-order run leaves it in,
 * and no environment left in a transient state.
 */
export async function check(
  stack: Stack,
  scenario: string,
  sent: number,
  acceptedIds: string[],
  expected: Map<number, Expected>,
  extra: { problems?: string[]; detail?: string } = {},
): Promise<Outcome> {
  const unique = [...new Set(acceptedIds)];
  const { rows: applied } = await stack.db.query<{ delivery_id: string }>(
    'SELECT delivery_id FROM processed_deliveries WHERE delivery_id = ANY($1)',
    [unique],
  );
  const lost = unique.length - applied.length;
  const { rows: envs } = await stack.db.query<{ pr_number: number; status: string; commit_sha: string; pr_title: string }>(
    'SELECT pr_number, status::text AS status, commit_sha, pr_title FROM environments WHERE pr_number = ANY($1)',
    [[...expected.keys()]],
  );
  const byPr = new Map(envs.map((e) => [e.pr_number, e]));
  const wrong = [...expected].filter(([pr, e]) => {
    const env = byPr.get(pr);
    return !env || env.status !== e.status || env.commit_sha !== e.commitSha || env.pr_title !== e.title;
  });
  const { rows: stuck } = await stack.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM environments WHERE status IN ('PENDING','PROVISIONING','UPDATING','DESTROYING')",
  );
  const problems = [...(extra.problems ?? [])];
  if (lost > 0) problems.push(`${lost} accepted deliveries never applied`);
  if (wrong.length > 0) {
    const [pr, e] = wrong[0]!;
    const got = byPr.get(pr);
    problems.push(
      `${wrong.length} PR(s) not in their calm-run state (first: #${pr} is ${got ? `${got.status} ${got.commit_sha.slice(-4)}` : 'missing'}, expected ${e.status} ${e.commitSha.slice(-4)})`,
    );
  }
  if (stuck[0]!.n > 0) problems.push(`${stuck[0]!.n} environments stuck in a transient state`);
  const exited = stack.services.filter((s) => s.process.exitCode !== null || s.process.signalCode !== null);
  if (exited.length > 0) problems.push(`service(s) exited on their own: ${exited.map((s) => s.name).join(', ')}`);
  const pass = problems.length === 0;
  return {
    scenario,
    sent,
    accepted: acceptedIds.length,
    applied: applied.length,
    lost,
    pass,
    detail: pass ? (extra.detail ?? 'final states as in a calm run') : problems.join('; '),
  };
}
