import { STATUS_CONTEXT } from '../github/github-feedback.js';
import type { InstallationClients } from '../github/installation-clients.js';
import type { GateObservation } from './gate-rules.js';

/** Reads what a deploy gate is judged on: the check runs and commit statuses of one commit. */
export interface GateReader {
  read(commit: { installationId: number; repositoryFullName: string; sha: string }): Promise<GateObservation>;
}

/** Check runs beyond this many on one commit are not read (a page is 100). */
const MAX_CHECK_RUN_PAGES = 10;

/**
 * Through the App's installation: `GET /repos/{o}/{r}/commits/{sha}/check-runs` (the latest run of each check) and
 * the combined status (`GET …/commits/{sha}/status`, the latest status of each context), both at once. Every request
 * is bounded by GITHUB_REQUEST_TIMEOUT_MS (the clients' fetch); a failure throws and changes nothing.
 */
export class GithubGateReader implements GateReader {
  constructor(private readonly clients: InstallationClients) {}

  async read(commit: { installationId: number; repositoryFullName: string; sha: string }): Promise<GateObservation> {
    const [owner, repo] = commit.repositoryFullName.split('/') as [string, string];
    const octokit = this.clients.for(commit.installationId);
    const [runs, combined] = await Promise.all([
      (async () => {
        const all = [];
        let page = 0;
        for await (const { data } of octokit.paginate.iterator(octokit.rest.checks.listForRef, { owner, repo, ref: commit.sha, filter: 'latest', per_page: 100 })) {
          all.push(...data);
          if (++page >= MAX_CHECK_RUN_PAGES) break;
        }
        return all;
      })(),
      octokit.rest.repos.getCombinedStatusForRef({ owner, repo, ref: commit.sha, per_page: 100 }),
    ]);
    return {
      checkRuns: runs.map((r) => ({
        id: r.id,
        name: r.name,
        app: r.app?.slug ?? null,
        status: r.status,
        conclusion: r.conclusion ?? null,
        url: r.details_url ?? r.html_url ?? null,
      })),
      // Ephemera's own status on the commit is its report, not one of the commit's checks.
      statuses: combined.data.statuses
        .filter((s) => s.context !== STATUS_CONTEXT)
        .map((s) => ({ context: s.context, state: s.state, targetUrl: s.target_url ?? null })),
    };
  }
}
