import type { NewCommitStatus } from '../commit-checks.js';
import type { Exchange } from '../exchange.js';
import type { FakeGithubState } from '../fake-github-state.js';

/** What the App reports on a commit: commit statuses, deployments and their statuses. */
export function statusAndDeploymentRoutes(state: FakeGithubState, ex: Exchange): boolean {
  if (ex.method !== 'POST') return false;
  const { path, body } = ex;
  let m: RegExpExecArray | null;
  if ((m = /^\/repos\/([^/]+)\/([^/]+)\/statuses\/([0-9a-f]{40})$/.exec(path))) {
    // Kept where the combined status shows it, under GitHub's default context when none is given.
    const status = { context: String(body?.context ?? 'default'), state: body?.state as NewCommitStatus['state'], targetUrl: (body?.target_url as string | undefined) ?? null, description: (body?.description as string | undefined) ?? null };
    const id = state.checks.addStatus(`${m[1]}/${m[2]}`, m[3]!, status, { ...state.bot, avatar_url: 'https://avatars.githubusercontent.com/in/42?v=4' }) ?? state.newId();
    return ex.send(201, { id, state: body?.state, context: body?.context, description: body?.description, target_url: body?.target_url ?? null });
  }
  if (/^\/repos\/[^/]+\/[^/]+\/deployments$/.test(path)) {
    return ex.send(201, { id: state.newId(), sha: body?.ref, ref: body?.ref, environment: body?.environment, transient_environment: body?.transient_environment });
  }
  if ((m = /^\/repos\/[^/]+\/[^/]+\/deployments\/(\d+)\/statuses$/.exec(path))) {
    return ex.send(201, { id: state.newId(), state: body?.state, environment_url: body?.environment_url ?? null, deployment_url: `/deployments/${m[1]}` });
  }
  return false;
}
