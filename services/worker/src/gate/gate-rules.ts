import type { WaitForEntry } from '@ephemera/schema';

// The deploy gate's rules (`deploy.wait_for`), with no I/O: which check runs and commit statuses of a commit an
// entry means, and whether together they let the commit deploy, fail it, or keep it waiting.

/** One entry of `wait_for`, as stored with a waiting deployment: `any` is a bare name (a check run, else a status). */
export interface GateCheck {
  kind: 'any' | 'check' | 'status';
  name: string;
  /** Only a check run made by this GitHub App (its slug) counts. */
  app?: string;
}

/** A check run of the commit as GitHub lists it. */
export interface ObservedCheckRun {
  id: number;
  name: string;
  /** The slug of the App that made it. */
  app: string | null;
  status: string;
  conclusion: string | null;
  /** `details_url`, else `html_url`. */
  url: string | null;
}

/** The latest commit status of a context, as the combined status lists it. */
export interface ObservedStatus {
  context: string;
  state: string;
  targetUrl: string | null;
}

export interface GateObservation {
  checkRuns: ObservedCheckRun[];
  statuses: ObservedStatus[];
}

export type GateVerdict =
  | { state: 'open' }
  | { state: 'waiting'; pending: GateCheck[]; /** Of those, the ones nothing was seen of yet. */ unseen: GateCheck[] }
  | { state: 'failed'; reason: 'check_failed' | 'timeout' | 'missing'; message: string };

const PASSED_CONCLUSIONS = new Set(['success', 'neutral', 'skipped']);
const PASSED_STATES = new Set(['success']);
const FAILED_STATES = new Set(['failure', 'error']);

export function gateChecksOf(waitFor: readonly WaitForEntry[]): GateCheck[] {
  return waitFor.map((e) =>
    typeof e === 'string'
      ? { kind: 'any', name: e }
      : e.check !== undefined
        ? { kind: 'check', name: e.check, ...(e.app !== undefined ? { app: e.app } : {}) }
        : { kind: 'status', name: e.status! },
  );
}

/** `` `build`, `docker / push` ``: what a deployment waits for, as the comment and the commit status say it. */
export function describeChecks(checks: readonly GateCheck[]): string {
  return checks.map((c) => `\`${c.name}\``).join(', ');
}

/** The stored form of a waiting deployment's checks, read back; null when it is not that shape. */
export function parseGateChecks(value: unknown): GateCheck[] | null {
  if (!Array.isArray(value)) return null;
  const ok = value.every(
    (c: unknown) =>
      typeof c === 'object' && c !== null && ['any', 'check', 'status'].includes((c as GateCheck).kind) && typeof (c as GateCheck).name === 'string',
  );
  return ok ? (value as GateCheck[]) : null;
}

type Outcome = { state: 'passed' } | { state: 'pending' } | { state: 'unseen' } | { state: 'failed'; what: string; url: string | null };

/** What one entry says: the newest run of each App for a check, the latest status of its context for a status. */
function outcomeOf(check: GateCheck, seen: GateObservation): Outcome {
  const runs = seen.checkRuns.filter((r) => r.name === check.name && (check.app === undefined || r.app === check.app));
  if (check.kind === 'check' || (check.kind === 'any' && runs.length > 0)) {
    if (runs.length === 0) return { state: 'unseen' };
    // A re-run is a new check run of the same name: only the newest of each App counts.
    const newest = new Map<string, ObservedCheckRun>();
    for (const r of runs) if ((newest.get(r.app ?? '')?.id ?? -1) < r.id) newest.set(r.app ?? '', r);
    const failed = [...newest.values()].find((r) => r.status === 'completed' && !PASSED_CONCLUSIONS.has(r.conclusion ?? ''));
    if (failed) return { state: 'failed', what: `check run "${failed.name}" concluded ${failed.conclusion ?? 'without a conclusion'}`, url: failed.url };
    return [...newest.values()].every((r) => r.status === 'completed') ? { state: 'passed' } : { state: 'pending' };
  }
  const status = seen.statuses.find((s) => s.context === check.name);
  if (!status) return { state: 'unseen' };
  if (PASSED_STATES.has(status.state)) return { state: 'passed' };
  if (FAILED_STATES.has(status.state)) return { state: 'failed', what: `commit status "${status.context}" is ${status.state}`, url: status.targetUrl };
  return { state: 'pending' };
}

/** Why nothing of that name was found, with what the commit does have, so a typo shows. */
function missing(check: GateCheck, seen: GateObservation, shortSha: string): string {
  const names = [...new Set([...seen.checkRuns.map((r) => r.name), ...seen.statuses.map((s) => s.context)])].sort();
  const what = check.kind === 'any' ? 'check run or status' : check.kind === 'check' ? `check run${check.app ? ` by ${check.app}` : ''}` : 'commit status';
  return `no ${what} named "${check.name}" on ${shortSha}; seen: ${names.length > 0 ? names.join(', ') : 'none'}`;
}

/**
 * The gate of a commit: open when every entry passed (check runs concluded success, neutral or skipped; statuses
 * success), failed as soon as one failed (whatever the others do), and otherwise waiting; once `timedOut`, a gate
 * still waiting fails, naming the entries nothing was ever seen of.
 */
export function judgeGate(checks: readonly GateCheck[], seen: GateObservation, at: { sha: string; timedOut: boolean; waitedMinutes: number }): GateVerdict {
  const shortSha = at.sha.slice(0, 7);
  const outcomes = checks.map((check) => ({ check, outcome: outcomeOf(check, seen) }));
  const failed = outcomes.find((o) => o.outcome.state === 'failed');
  if (failed && failed.outcome.state === 'failed') {
    const { what, url } = failed.outcome;
    return { state: 'failed', reason: 'check_failed', message: `${what} on ${shortSha}${url ? `: ${url}` : ''}` };
  }
  const pending = outcomes.filter((o) => o.outcome.state !== 'passed');
  if (pending.length === 0) return { state: 'open' };
  const unseen = pending.filter((o) => o.outcome.state === 'unseen');
  if (!at.timedOut) return { state: 'waiting', pending: pending.map((o) => o.check), unseen: unseen.map((o) => o.check) };
  const running = pending.filter((o) => o.outcome.state === 'pending');
  const parts = [
    ...(running.length > 0 ? [`still waiting for ${running.map((o) => o.check.name).join(', ')} after ${at.waitedMinutes} minute${at.waitedMinutes === 1 ? '' : 's'}`] : []),
    ...unseen.map((o) => missing(o.check, seen, shortSha)),
  ];
  return { state: 'failed', reason: unseen.length > 0 ? 'missing' : 'timeout', message: parts.join('; ') };
}
