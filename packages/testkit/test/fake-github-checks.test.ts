import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Octokit, type RestEndpointMethodTypes } from '@octokit/rest';
import { appIdOf, startFakeGithub, type FakeGithub } from '../src/fake-github.js';
import { checkRunPayload, checkSuitePayload, commitStatusPayload, workflowRunPayload } from '../src/gate-payloads.js';
import { repositoryIdOf } from '../src/pull-request-payload.js';
import { webhookExample } from '../src/webhook-examples.js';

// Payloads are deep, loosely typed JSON.
/* eslint-disable @typescript-eslint/no-explicit-any */

/*
 * What a deploy gate reads about a commit's CI, asked of the fake with the unchanged @octokit/rest client and an
 * installation token, as Ephemera's worker asks GitHub.
 */

const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const REPO = { owner: 'acme', repo: 'shop' };
const FULL = 'acme/shop';
const SHA = 'a'.repeat(40);
const OTHER_SHA = 'b'.repeat(40);

let fake: FakeGithub;
let octokit: Octokit;

beforeEach(async () => {
  fake = await startFakeGithub();
  octokit = new Octokit({ auth: 'ghs_fake7', baseUrl: fake.url, log: quiet });
});

afterEach(async () => {
  await fake.close();
});

type ListQuery = Omit<RestEndpointMethodTypes['checks']['listForRef']['parameters'], 'owner' | 'repo' | 'ref'>;
const runs = async (query: ListQuery = {}) => (await octokit.rest.checks.listForRef({ ...REPO, ref: SHA, ...query })).data;
const combined = async (ref = SHA) => (await octokit.rest.repos.getCombinedStatusForRef({ ...REPO, ref })).data;

describe('check runs for a ref', () => {
  it("shows only each check's newest run by default, and every run with filter=all", async () => {
    const first = fake.addCheckRun(FULL, SHA, { name: 'test', conclusion: 'failure' });
    const lint = fake.addCheckRun(FULL, SHA, { name: 'lint', status: 'in_progress' });
    const rerun = fake.addCheckRun(FULL, SHA, { name: 'test', status: 'in_progress', detailsUrl: 'https://ci.example.test/2' });

    const latest = await runs();
    expect(latest.total_count).toBe(2);
    expect(latest.check_runs.map((r) => r.id).sort()).toEqual([lint, rerun].sort());
    const shown = latest.check_runs.find((r) => r.id === rerun)!;
    expect(shown).toMatchObject({ name: 'test', head_sha: SHA, status: 'in_progress', conclusion: null, completed_at: null, details_url: 'https://ci.example.test/2', pull_requests: [] });
    expect(shown.app).toMatchObject({ id: 15368, slug: 'github-actions', name: 'GitHub Actions' });
    expect(shown.output).toMatchObject({ annotations_count: 0, annotations_url: `https://api.github.com/repos/${FULL}/check-runs/${rerun}/annotations` });
    expect(shown.check_suite?.id).toBe(latest.check_runs.find((r) => r.id === lint)!.check_suite?.id);

    const all = await runs({ filter: 'all' });
    expect(all.total_count).toBe(3);
    expect(all.check_runs.map((r) => r.id).sort()).toEqual([first, lint, rerun].sort());
    expect(all.check_runs.find((r) => r.id === first)).toMatchObject({ status: 'completed', conclusion: 'failure' });

    // Completing the re-run stamps it, and it stays the one shown.
    fake.updateCheckRun(rerun, { conclusion: 'success' });
    const after = await runs({ check_name: 'test' });
    expect(after.check_runs).toHaveLength(1);
    expect(after.check_runs[0]).toMatchObject({ id: rerun, status: 'completed', conclusion: 'success' });
    expect(after.check_runs[0]!.completed_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(fake.requests.filter((r) => r.path.endsWith('/check-runs')).every((r) => r.authorization === 'token ghs_fake7')).toBe(true);
  });

  it('filters by check name, status and App, and keeps runs of the same name by different Apps apart', async () => {
    fake.addCheckRun(FULL, SHA, { name: 'build', conclusion: 'success' });
    const external = fake.addCheckRun(FULL, SHA, { name: 'build', app: 'circleci-checks', status: 'queued' });
    fake.addCheckRun(FULL, SHA, { name: 'deploy-check', conclusion: 'neutral' });
    fake.addCheckRun(FULL, OTHER_SHA, { name: 'build', conclusion: 'failure' });
    fake.addCheckRun('acme/other', SHA, { name: 'build', conclusion: 'failure' });

    expect((await runs()).total_count).toBe(3);
    expect((await runs({ check_name: 'build' })).check_runs.map((r) => r.app?.slug).sort()).toEqual(['circleci-checks', 'github-actions']);
    const byApp = await runs({ app_id: appIdOf('circleci-checks') });
    expect(byApp.check_runs.map((r) => r.id)).toEqual([external]);
    expect(byApp.check_runs[0]!.app).toMatchObject({ id: appIdOf('circleci-checks'), slug: 'circleci-checks' });
    expect(appIdOf('circleci-checks')).toBe(appIdOf('circleci-checks'));
    expect(appIdOf('circleci-checks')).not.toBe(15368);
    expect((await runs({ app_id: 15368 })).total_count).toBe(2);
    expect((await runs({ status: 'queued' })).check_runs.map((r) => r.id)).toEqual([external]);
    // Repository names are case-insensitive, as GitHub's are.
    expect((await octokit.rest.checks.listForRef({ owner: 'ACME', repo: 'Shop', ref: SHA })).data.total_count).toBe(3);
  });

  it('pages as GitHub does, with a link to the next page, and paginate() walks them all', async () => {
    const ids = Array.from({ length: 7 }, (_, i) => fake.addCheckRun(FULL, SHA, { name: `job ${i}`, conclusion: 'success' }));
    const first = await octokit.rest.checks.listForRef({ ...REPO, ref: SHA, per_page: 3 });
    expect(first.data.total_count).toBe(7);
    expect(first.data.check_runs).toHaveLength(3);
    expect(first.headers.link).toMatch(/page=2>; rel="next"/);
    const last = await octokit.rest.checks.listForRef({ ...REPO, ref: SHA, per_page: 3, page: 3 });
    expect(last.data.check_runs).toHaveLength(1);
    expect(last.headers.link).not.toMatch(/rel="next"/);
    const walked = await octokit.paginate(octokit.rest.checks.listForRef, { ...REPO, ref: SHA, per_page: 2 });
    expect(walked.map((r) => r.id).sort()).toEqual([...ids].sort());
    expect((await octokit.rest.checks.listForRef({ ...REPO, ref: SHA })).data.check_runs).toHaveLength(7);
  });

  it('answers an empty list for a commit without runs, and 422 for a ref that is no sha', async () => {
    expect(await runs()).toEqual({ total_count: 0, check_runs: [] });
    const err = await octokit.rest.checks.listForRef({ ...REPO, ref: 'main' }).then(
      () => null,
      (e: { status: number; response: { data: { message: string } } }) => e,
    );
    expect(err?.status).toBe(422);
    expect(err?.response.data.message).toBe('No commit found for SHA: main');
  });

  it('refuses a run completed without a conclusion, as GitHub does', () => {
    expect(() => fake.addCheckRun(FULL, SHA, { name: 'x', status: 'completed' })).toThrow();
    const id = fake.addCheckRun(FULL, SHA, { name: 'x' });
    expect(() => fake.updateCheckRun(id, { status: 'completed' })).toThrow();
  });
});

describe('combined status for a ref', () => {
  it('is pending with no statuses at all', async () => {
    const status = await combined();
    expect(status).toMatchObject({ state: 'pending', statuses: [], total_count: 0, sha: SHA });
    expect(status.repository).toMatchObject({ full_name: FULL, id: repositoryIdOf(FULL), name: 'shop', owner: { login: 'acme' } });
    expect(status.url).toBe(`https://api.github.com/repos/${FULL}/commits/${SHA}/status`);
    expect(status.commit_url).toBe(`https://api.github.com/repos/${FULL}/commits/${SHA}`);
  });

  it('follows GitHub rules: any failure or error fails, else any pending is pending, else success', async () => {
    fake.addCommitStatus(FULL, SHA, { context: 'ci/build', state: 'pending' });
    fake.addCommitStatus(FULL, SHA, { context: 'ci/lint', state: 'success' });
    expect((await combined()).state).toBe('pending');

    fake.addCommitStatus(FULL, SHA, { context: 'ci/build', state: 'success', targetUrl: 'https://ci.example.test/b', description: 'green' });
    const green = await combined();
    expect(green.state).toBe('success');
    expect(green.total_count).toBe(2);
    // The newest of each context replaces the older one, newest first.
    expect(green.statuses.map((s) => [s.context, s.state])).toEqual([
      ['ci/build', 'success'],
      ['ci/lint', 'success'],
    ]);
    expect(green.statuses[0]).toMatchObject({ target_url: 'https://ci.example.test/b', description: 'green', url: `https://api.github.com/repos/${FULL}/statuses/${SHA}` });
    expect(Object.keys(green.statuses[0]!).sort()).toEqual(['avatar_url', 'context', 'created_at', 'description', 'id', 'node_id', 'state', 'target_url', 'updated_at', 'url']);

    fake.addCommitStatus(FULL, SHA, { context: 'ci/security', state: 'pending' });
    fake.addCommitStatus(FULL, SHA, { context: 'ci/lint', state: 'failure' });
    expect((await combined()).state).toBe('failure');
    fake.addCommitStatus(FULL, SHA, { context: 'ci/lint', state: 'error' });
    expect((await combined()).state).toBe('failure');
    fake.addCommitStatus(FULL, SHA, { context: 'ci/lint', state: 'success' });
    expect((await combined()).state).toBe('pending');
    fake.addCommitStatus(FULL, SHA, { context: 'ci/security', state: 'success' });
    expect((await combined()).state).toBe('success');
    expect((await combined(OTHER_SHA)).state).toBe('pending');
  });

  it("shows Ephemera's own posted status, which keeps its response, and pages the contexts", async () => {
    fake.addCommitStatus(FULL, SHA, { context: 'ci/build', state: 'success' });
    const posted = await octokit.rest.repos.createCommitStatus({ ...REPO, sha: SHA, state: 'pending', context: 'ephemera/preview', description: 'Deploying', target_url: 'https://pr-1.preview.test' });
    expect(posted.status).toBe(201);
    expect(posted.data).toEqual({ id: expect.any(Number), state: 'pending', context: 'ephemera/preview', description: 'Deploying', target_url: 'https://pr-1.preview.test' });

    const status = await combined();
    expect(status.state).toBe('pending');
    expect(status.statuses[0]).toMatchObject({ id: posted.data.id, context: 'ephemera/preview', state: 'pending', description: 'Deploying', target_url: 'https://pr-1.preview.test' });

    await octokit.rest.repos.createCommitStatus({ ...REPO, sha: SHA, state: 'success', context: 'ephemera/preview' });
    expect((await combined()).state).toBe('success');

    const page = await octokit.rest.repos.getCombinedStatusForRef({ ...REPO, ref: SHA, per_page: 1 });
    expect(page.data.statuses).toHaveLength(1);
    expect(page.data.total_count).toBe(2);
    expect(page.headers.link).toMatch(/rel="next"/);
  });

  it('answers 422 for a ref that is no sha', async () => {
    const err = await octokit.rest.repos.getCombinedStatusForRef({ ...REPO, ref: 'heads/main' }).then(
      () => null,
      (e: { status: number }) => e,
    );
    expect(err?.status).toBe(422);
  });
});

/** Every leaf path where two JSON values differ. */
function changedPaths(a: unknown, b: unknown, at = ''): string[] {
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => changedPaths((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], at ? `${at}.${k}` : k));
  }
  return Object.is(a, b) ? [] : [at];
}

/** The paths a builder changed in GitHub's example, checked against those it may change (a prefix allows a subtree). */
function expectOnlyChanged(payload: Record<string, unknown>, example: Record<string, unknown>, allowed: string[]) {
  const unexpected = changedPaths(example, payload).filter((p) => !allowed.some((a) => p === a || p.startsWith(`${a}.`)));
  expect(unexpected).toEqual([]);
}

const REPOSITORY_FIELDS = ['repository.full_name', 'repository.name', 'repository.owner.login', 'repository.id', 'installation'];
/** An App's identity, which the builders set; the rest of it stays GitHub's example. */
const appFields = (at: string) => ['id', 'slug', 'node_id', 'name'].map((f) => `${at}.${f}`);

describe('gate payloads', () => {
  it('checkRunPayload', () => {
    const p = checkRunPayload({ repository: 'acme/shop', sha: SHA, name: 'e2e', conclusion: 'failure', app: 'circleci-checks', detailsUrl: 'https://ci.example.test/9', installationId: 5 }) as Record<string, any>;
    expect(p).toMatchObject({ action: 'completed', installation: { id: 5, node_id: 'x' } });
    expect(p.repository).toMatchObject({ full_name: 'acme/shop', name: 'shop', owner: { login: 'acme' }, id: repositoryIdOf('acme/shop') });
    expect(p.check_run).toMatchObject({ head_sha: SHA, check_suite: { head_sha: SHA }, name: 'e2e', status: 'completed', conclusion: 'failure', details_url: 'https://ci.example.test/9' });
    expect(p.check_run.app).toMatchObject({ id: appIdOf('circleci-checks'), slug: 'circleci-checks' });
    expectOnlyChanged(p, webhookExample('check_run', 'completed'), [...REPOSITORY_FIELDS, 'check_run.head_sha', 'check_run.check_suite.head_sha', 'check_run.check_suite.after', 'check_run.name', 'check_run.conclusion', ...appFields('check_run.app'), ...appFields('check_run.check_suite.app'), 'check_run.details_url']);

    const running = checkRunPayload({ action: 'created', repository: 'acme/shop', sha: SHA, name: 'e2e', status: 'in_progress' }) as Record<string, any>;
    expect(running).toMatchObject({ action: 'created', installation: { id: 1, node_id: 'x' }, check_run: { status: 'in_progress', conclusion: null, completed_at: null } });
    expect(running.check_run.app).toMatchObject({ id: 15368, slug: 'github-actions' });
    expect(checkRunPayload({ repository: 'acme/shop', sha: SHA, name: 'e2e', installationId: null })).not.toHaveProperty('installation');
  });

  it('checkSuitePayload', () => {
    const p = checkSuitePayload({ repository: 'acme/shop', sha: SHA, conclusion: 'timed_out', app: 'github-actions', installationId: 3 }) as Record<string, any>;
    expect(p).toMatchObject({ action: 'completed', installation: { id: 3, node_id: 'x' }, check_suite: { head_sha: SHA, status: 'completed', conclusion: 'timed_out' } });
    expect(p.repository).toMatchObject({ full_name: 'acme/shop', id: repositoryIdOf('acme/shop') });
    expect(p.check_suite.app).toMatchObject({ id: 15368, slug: 'github-actions' });
    expectOnlyChanged(p, webhookExample('check_suite', 'completed'), [...REPOSITORY_FIELDS, 'check_suite.head_sha', 'check_suite.after', 'check_suite.head_commit.id', 'check_suite.conclusion', ...appFields('check_suite.app')]);
    expect(checkSuitePayload({ repository: 'acme/shop', sha: SHA, installationId: null })).not.toHaveProperty('installation');
  });

  it('commitStatusPayload', () => {
    const p = commitStatusPayload({ repository: 'acme/shop', sha: SHA, context: 'ci/build', state: 'failure', targetUrl: 'https://ci.example.test/1', installationId: 2 }) as Record<string, any>;
    expect(p).not.toHaveProperty('action');
    expect(p).toMatchObject({ sha: SHA, commit: { sha: SHA }, context: 'ci/build', state: 'failure', target_url: 'https://ci.example.test/1', name: 'acme/shop', installation: { id: 2, node_id: 'x' } });
    expect(p.repository).toMatchObject({ full_name: 'acme/shop', name: 'shop', owner: { login: 'acme' }, id: repositoryIdOf('acme/shop') });
    expectOnlyChanged(p, webhookExample('status', undefined, { withInstallation: true }), [...REPOSITORY_FIELDS, 'name', 'sha', 'commit.sha', 'context', 'state', 'target_url']);
    expect(commitStatusPayload({ repository: 'acme/shop', sha: SHA, context: 'c', state: 'success', installationId: null })).not.toHaveProperty('installation');
  });

  it('workflowRunPayload', () => {
    const p = workflowRunPayload({ repository: 'acme/shop', sha: SHA, conclusion: 'failure', name: 'CI', installationId: 4 }) as Record<string, any>;
    expect(p).toMatchObject({ action: 'completed', installation: { id: 4, node_id: 'x' }, workflow_run: { head_sha: SHA, status: 'completed', conclusion: 'failure', name: 'CI' }, workflow: { name: 'CI' } });
    expect(p.repository).toMatchObject({ full_name: 'acme/shop', id: repositoryIdOf('acme/shop') });
    expect(p.workflow_run.repository).toMatchObject({ full_name: 'acme/shop', id: repositoryIdOf('acme/shop') });
    const runFields = ['head_sha', 'head_commit.id', 'status', 'conclusion', 'name'].map((f) => `workflow_run.${f}`);
    const nested = ['repository', 'head_repository'].flatMap((r) => ['full_name', 'name', 'owner.login', 'id'].map((f) => `workflow_run.${r}.${f}`));
    expectOnlyChanged(p, webhookExample('workflow_run', 'completed'), [...REPOSITORY_FIELDS, ...runFields, ...nested, 'workflow.name']);
    expect(workflowRunPayload({ action: 'requested', repository: 'acme/shop', sha: SHA })).toMatchObject({ action: 'requested', workflow_run: { status: 'queued', conclusion: null } });
    expect(workflowRunPayload({ repository: 'acme/shop', sha: SHA, installationId: null })).not.toHaveProperty('installation');
  });
});
