import { appOf, type CheckRunConclusion, type CheckRunStatus, type CommitStatusState } from './fake-github/commit-checks.js';
import { repositoryIdOf } from './pull-request-payload.js';
import { webhookExample } from './webhook-examples.js';

// The example payloads are deep, loosely typed JSON; this module edits them in place.
/* eslint-disable @typescript-eslint/no-explicit-any */

/**
 * GitHub's example for the event and action; an action without an example of its own borrows the `completed` one,
 * so every action a test names gets a payload of the right shape.
 */
function example(event: string, action: string): Record<string, any> {
  try {
    return webhookExample(event, action) as Record<string, any>;
  } catch {
    return webhookExample(event, 'completed') as Record<string, any>;
  }
}

/** The repository's names and id, as `pullRequestPayload` sets them, so payloads and the fake GitHub agree. */
function setRepository(target: Record<string, any> | undefined, fullName: string): void {
  if (!target) return;
  const [owner, name] = fullName.split('/') as [string, string];
  target.full_name = fullName;
  target.name = name;
  target.owner.login = owner;
  target.id = repositoryIdOf(fullName);
}

/** The installation a payload comes from: installation 1 unless the variant names another, none for `null`. */
function setInstallation(p: Record<string, any>, installationId: number | null = 1): void {
  if (installationId === null) delete p.installation;
  else p.installation = { id: installationId, node_id: 'x' };
}

/**
 * The example's App made the one named: its identity as the fake GitHub's API shows it (the examples' own ids do not
 * match their slugs), the rest as GitHub's example has it.
 */
function withApp(example: Record<string, any>, slug: string): Record<string, any> {
  const { id, slug: _slug, node_id, name } = appOf(slug);
  return { ...example, id, slug, node_id, name };
}

/** What every payload about a commit is made for: the event's action, the repository, the commit, the installation. */
interface CommitEventVariant {
  /** Unset: `completed`. */
  action?: string;
  repository: string;
  sha: string;
  /** Unset: installation 1; `null`: a payload without an installation. */
  installationId?: number | null;
}

/**
 * GitHub's example for the event and the variant's action, with the action, repository and installation set: where a
 * payload starts.
 */
function exampleFor(event: string, v: CommitEventVariant): { action: string; p: Record<string, any> } {
  const action = v.action ?? 'completed';
  const p = example(event, action);
  p.action = action;
  setRepository(p.repository, v.repository);
  setInstallation(p, v.installationId);
  return { action, p };
}

/** The commit a suite or workflow run is about: its head sha and head commit's id. */
function setHeadCommit(target: Record<string, any>, sha: string): void {
  target.head_sha = sha;
  if (target.head_commit) target.head_commit.id = sha;
}

export interface CheckRunVariant extends CommitEventVariant {
  name: string;
  status?: CheckRunStatus;
  /** Unset: `success` for a completed run, `null` for any other, as GitHub never sends one without the other. */
  conclusion?: CheckRunConclusion | null;
  app?: string;
  detailsUrl?: string;
}

/** GitHub's example `check_run` payload, changed into the run a test needs. */
export function checkRunPayload(v: CheckRunVariant): Record<string, unknown> {
  const status = v.status ?? 'completed';
  const { p } = exampleFor('check_run', v);
  const run = p.check_run;
  run.head_sha = v.sha;
  run.check_suite.head_sha = v.sha;
  // `after` is the pushed commit the suite belongs to: the same one.
  if ('after' in run.check_suite) run.check_suite.after = v.sha;
  run.name = v.name;
  run.status = status;
  run.conclusion = v.conclusion !== undefined ? v.conclusion : status === 'completed' ? 'success' : null;
  if (status !== 'completed') run.completed_at = null;
  run.app = withApp(run.app, v.app ?? 'github-actions');
  if (run.check_suite.app) run.check_suite.app = withApp(run.check_suite.app, v.app ?? 'github-actions');
  if (v.detailsUrl !== undefined) run.details_url = v.detailsUrl;
  return p;
}

export interface CheckSuiteVariant extends CommitEventVariant {
  /** The App's slug; `github-actions` when unset. */
  app?: string;
  /** Unset: `success` when the action is `completed`, else the example's. */
  conclusion?: CheckRunConclusion | null;
}

/** GitHub's example `check_suite` payload, changed into the suite a test needs. */
export function checkSuitePayload(v: CheckSuiteVariant): Record<string, unknown> {
  const { action, p } = exampleFor('check_suite', v);
  const suite = p.check_suite;
  setHeadCommit(suite, v.sha);
  suite.after = v.sha;
  if (action === 'completed') suite.status = 'completed';
  if (v.conclusion !== undefined) suite.conclusion = v.conclusion;
  else if (action === 'completed') suite.conclusion = 'success';
  suite.app = withApp(suite.app, v.app ?? 'github-actions');
  return p;
}

export interface CommitStatusVariant extends Omit<CommitEventVariant, 'action'> {
  context: string;
  state: CommitStatusState;
  targetUrl?: string | null;
}

/** GitHub's example `status` payload (an event without an `action`), changed into the status a test needs. */
export function commitStatusPayload(v: CommitStatusVariant): Record<string, unknown> {
  const p = webhookExample('status', undefined, { withInstallation: true }) as Record<string, any>;
  setRepository(p.repository, v.repository);
  // `name` is the repository's full name in this event.
  p.name = v.repository;
  p.sha = v.sha;
  p.commit.sha = v.sha;
  p.context = v.context;
  p.state = v.state;
  if (v.targetUrl !== undefined) p.target_url = v.targetUrl;
  setInstallation(p, v.installationId);
  return p;
}

export interface WorkflowRunVariant extends CommitEventVariant {
  /** Unset: `success` when the action is `completed`, `null` for any other. */
  conclusion?: CheckRunConclusion | null;
  /** The workflow's name (`workflow_run.name` and `workflow.name`); the example's when unset. */
  name?: string;
}

/** GitHub's example `workflow_run` payload, changed into the run a test needs. */
export function workflowRunPayload(v: WorkflowRunVariant): Record<string, unknown> {
  const { action, p } = exampleFor('workflow_run', v);
  const run = p.workflow_run;
  setRepository(run.repository, v.repository);
  setRepository(run.head_repository, v.repository);
  setHeadCommit(run, v.sha);
  // GitHub's first `completed` example is still `queued`; a completed run says so, as GitHub sends it.
  run.status = action === 'completed' ? 'completed' : action === 'requested' ? 'queued' : 'in_progress';
  run.conclusion = v.conclusion !== undefined ? v.conclusion : action === 'completed' ? 'success' : null;
  if (v.name !== undefined) {
    run.name = v.name;
    p.workflow.name = v.name;
  }
  return p;
}
