import { createHash } from 'node:crypto';
import { accountOf, nodeIdOf } from './account-of.js';
import { pageOf } from './page-of.js';

export type CheckRunStatus = 'queued' | 'in_progress' | 'completed' | 'waiting' | 'requested' | 'pending';
/** `stale` is set by GitHub alone (never by an App), which the fake stands in for. */
export type CheckRunConclusion = 'success' | 'failure' | 'neutral' | 'cancelled' | 'skipped' | 'timed_out' | 'action_required' | 'stale';
export type CommitStatusState = 'error' | 'failure' | 'pending' | 'success';

export interface NewCheckRun {
  name: string;
  /** Unset: `completed` when a conclusion is given, else `queued`, as GitHub's create endpoint defaults. */
  status?: CheckRunStatus;
  conclusion?: CheckRunConclusion | null;
  /** The App's slug; `github-actions` when unset. */
  app?: string;
  detailsUrl?: string;
}

export interface CheckRunChange {
  status?: CheckRunStatus;
  conclusion?: CheckRunConclusion | null;
  detailsUrl?: string;
}

export interface NewCommitStatus {
  context: string;
  state: CommitStatusState;
  targetUrl?: string | null;
  description?: string | null;
}

/** GitHub Actions' real id on github.com, so code that recognizes Actions by `app.id` behaves as it will there. */
const GITHUB_ACTIONS_APP_ID = 15368;

/** The id the fake gives an App: GitHub Actions' own, a stable number derived from the slug for any other. */
export function appIdOf(slug: string): number {
  if (slug === 'github-actions') return GITHUB_ACTIONS_APP_ID;
  return 100_000 + (createHash('sha256').update(`app:${slug}`).digest().readUInt32BE(0) % 9_000_000);
}

/** An App as check runs and check suites nest it. */
export function appOf(slug: string): Record<string, unknown> {
  const actions = slug === 'github-actions';
  const id = appIdOf(slug);
  return {
    id,
    slug,
    node_id: nodeIdOf('App', id),
    owner: accountOf(actions ? 'github' : slug, 'Organization'),
    name: actions ? 'GitHub Actions' : slug,
    description: actions ? 'Automate your workflow from idea to production' : '',
    external_url: actions ? 'https://help.github.com/en/actions' : `https://${slug}.example.test`,
    html_url: `https://github.com/apps/${slug}`,
    created_at: '2018-07-30T09:30:17Z',
    updated_at: '2019-12-10T19:04:12Z',
    permissions: { checks: 'write', metadata: 'read', statuses: 'write' },
    events: [],
  };
}

interface CheckRunRecord {
  id: number;
  fullName: string;
  sha: string;
  name: string;
  app: string;
  suiteId: number;
  status: CheckRunStatus;
  conclusion: CheckRunConclusion | null;
  detailsUrl: string | null;
  startedAt: string;
  completedAt: string | null;
}

interface StatusRecord {
  id: number;
  fullName: string;
  sha: string;
  context: string;
  state: CommitStatusState;
  targetUrl: string | null;
  description: string | null;
  createdAt: string;
  creator: Record<string, unknown>;
}

const STATES: readonly string[] = ['error', 'failure', 'pending', 'success'];
const SHA = /^[0-9a-f]{40}$/i;
const key = (repository: string, sha: string) => `${repository.toLowerCase()}@${sha.toLowerCase()}`;

/**
 * The check runs and commit statuses of commits, by repository (case-insensitive, as GitHub's names are) and sha,
 * served as GitHub's list of check runs for a ref and combined status for a ref serve them.
 */
export class CommitChecks {
  private readonly runs: CheckRunRecord[] = [];
  private readonly statuses: StatusRecord[] = [];
  private readonly suites = new Map<string, number>();
  private nextRunId = 7_000_000;
  private nextSuiteId = 8_000_000;
  private nextStatusId = 9_000_000;

  constructor(
    private readonly now: () => number,
    private readonly repositoryView: (fullName: string) => Record<string, unknown>,
    /** Who a status set through the test controls comes from: CI, not the App under test. */
    private readonly ciCreator: Record<string, unknown> = accountOf('github-actions[bot]', 'Bot'),
  ) {}

  private timestamp(): string {
    return new Date(this.now()).toISOString().replace(/\.\d+Z$/, 'Z');
  }

  addCheckRun(repository: string, sha: string, run: NewCheckRun): number {
    const app = run.app ?? 'github-actions';
    const conclusion = run.conclusion ?? null;
    const status = run.status ?? (conclusion ? 'completed' : 'queued');
    // GitHub refuses either half without the other (422), so a test asking for one has a mistake worth hearing of.
    if ((status === 'completed') !== (conclusion !== null)) throw new Error(`a check run is completed exactly when it has a conclusion (${status}, ${conclusion})`);
    const suiteKey = `${key(repository, sha)}:${app}`;
    if (!this.suites.has(suiteKey)) this.suites.set(suiteKey, this.nextSuiteId++);
    const at = this.timestamp();
    const id = this.nextRunId++;
    this.runs.push({ id, fullName: repository, sha: sha.toLowerCase(), name: run.name, app, suiteId: this.suites.get(suiteKey)!, status, conclusion, detailsUrl: run.detailsUrl ?? null, startedAt: at, completedAt: status === 'completed' ? at : null });
    return id;
  }

  updateCheckRun(id: number, change: CheckRunChange): void {
    const run = this.runs.find((r) => r.id === id);
    if (!run) throw new Error(`no check run ${id}`);
    if (change.detailsUrl !== undefined) run.detailsUrl = change.detailsUrl;
    // As on GitHub, a conclusion completes the run.
    const conclusion = change.conclusion !== undefined ? change.conclusion : change.status && change.status !== 'completed' ? null : run.conclusion;
    const status = change.status ?? (conclusion ? 'completed' : run.status);
    if ((status === 'completed') !== (conclusion !== null)) throw new Error(`a check run is completed exactly when it has a conclusion (${status}, ${conclusion})`);
    if (status === 'completed' && run.status !== 'completed') run.completedAt = this.timestamp();
    if (status !== 'completed') run.completedAt = null;
    run.status = status;
    run.conclusion = conclusion;
  }

  /** Records a status; returns its id, or `null` for a state GitHub would not have accepted. */
  addStatus(repository: string, sha: string, status: NewCommitStatus, creator: Record<string, unknown> = this.ciCreator): number | null {
    if (!STATES.includes(status.state)) return null;
    const id = this.nextStatusId++;
    this.statuses.push({ id, fullName: repository, sha: sha.toLowerCase(), context: status.context, state: status.state, targetUrl: status.targetUrl ?? null, description: status.description ?? null, createdAt: this.timestamp(), creator });
    return id;
  }

  /** The answer to a request this module serves, or `null` when the request is for another endpoint. */
  answer(method: string, path: string, url: URL): { status: number; body: unknown; headers?: Record<string, string> } | null {
    const m = method === 'GET' ? /^\/repos\/([^/]+)\/([^/]+)\/commits\/(.+)\/(check-runs|status)$/.exec(path) : null;
    if (!m) return null;
    const fullName = `${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`;
    const ref = decodeURIComponent(m[3]!);
    // The fake knows no branches or tags, so only a sha resolves; GitHub's answer for a ref it cannot resolve.
    if (!SHA.test(ref)) return { status: 422, body: { message: `No commit found for SHA: ${ref}`, documentation_url: m[4] === 'status' ? 'https://docs.github.com/rest/commits/statuses#get-the-combined-status-for-a-specific-reference' : 'https://docs.github.com/rest/checks/runs#list-check-runs-for-a-git-reference', status: '422' } };
    return m[4] === 'status' ? this.combinedStatus(fullName, ref.toLowerCase(), url) : this.checkRuns(fullName, ref.toLowerCase(), url);
  }

  private checkRuns(fullName: string, sha: string, url: URL) {
    const q = url.searchParams;
    let runs = this.runs.filter((r) => key(r.fullName, r.sha) === key(fullName, sha));
    if (q.get('filter') !== 'all') {
      // `latest`: a re-run supersedes earlier runs of the same name by the same App. Narrowing by status comes after,
      // so a gate asking for completed runs does not see a superseded run as current.
      const newest = new Map<string, CheckRunRecord>();
      for (const r of runs) if ((newest.get(`${r.app}\n${r.name}`)?.id ?? -1) < r.id) newest.set(`${r.app}\n${r.name}`, r);
      runs = [...newest.values()];
    }
    if (q.has('check_name')) runs = runs.filter((r) => r.name === q.get('check_name'));
    if (q.has('status')) runs = runs.filter((r) => r.status === q.get('status'));
    if (q.has('app_id')) runs = runs.filter((r) => appIdOf(r.app) === Number(q.get('app_id')));
    runs.sort((a, b) => b.id - a.id);
    const page = pageOf(runs, url);
    return { status: 200, body: { total_count: runs.length, check_runs: page.items.map((r) => this.checkRunView(r)) }, headers: page.headers };
  }

  private checkRunView(r: CheckRunRecord) {
    const api = `https://api.github.com/repos/${r.fullName}/check-runs/${r.id}`;
    const html = `https://github.com/${r.fullName}/runs/${r.id}`;
    const app = appOf(r.app);
    return {
      id: r.id,
      name: r.name,
      node_id: nodeIdOf('CheckRun', r.id),
      head_sha: r.sha,
      external_id: '',
      url: api,
      html_url: html,
      // Without one from the App, GitHub links the App's homepage; Actions always links its job page.
      details_url: r.detailsUrl ?? (r.app === 'github-actions' ? html : app.external_url),
      status: r.status,
      conclusion: r.conclusion,
      started_at: r.startedAt,
      completed_at: r.completedAt,
      output: { title: null, summary: null, text: null, annotations_count: 0, annotations_url: `${api}/annotations` },
      check_suite: { id: r.suiteId },
      app,
      pull_requests: [],
    };
  }

  private combinedStatus(fullName: string, sha: string, url: URL) {
    const latest = new Map<string, StatusRecord>();
    for (const s of this.statuses) if (key(s.fullName, s.sha) === key(fullName, sha)) latest.set(s.context, s);
    const current = [...latest.values()].sort((a, b) => b.id - a.id);
    const states = current.map((s) => s.state);
    // GitHub's documented order of precedence: any error or failure fails; none at all, or any pending, is pending.
    const state = states.some((s) => s === 'error' || s === 'failure') ? 'failure' : states.length === 0 || states.includes('pending') ? 'pending' : 'success';
    const page = pageOf(current, url);
    const api = `https://api.github.com/repos/${fullName}`;
    const { id, node_id, name, full_name, private: isPrivate, owner, html_url, description, fork, url: repoUrl } = this.repositoryView(fullName);
    return {
      status: 200,
      headers: page.headers,
      body: {
        state,
        statuses: page.items.map((s) => ({
          url: `${api}/statuses/${s.sha}`,
          avatar_url: (s.creator.avatar_url as string | undefined) ?? null,
          id: s.id,
          node_id: nodeIdOf('StatusContext', s.id),
          state: s.state,
          description: s.description,
          target_url: s.targetUrl,
          context: s.context,
          created_at: s.createdAt,
          updated_at: s.createdAt,
        })),
        sha,
        total_count: current.length,
        repository: { id, node_id, name, full_name, private: isPrivate, owner, html_url, description, fork, url: repoUrl },
        commit_url: `${api}/commits/${sha}`,
        url: `${api}/commits/${sha}/status`,
      },
    };
  }
}
