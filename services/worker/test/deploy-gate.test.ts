import { createHash, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  checkRunPayload,
  checkSuitePayload,
  commitStatusPayload,
  pullRequestPayload,
  repositoryIdOf,
  startFakeKubernetes,
  type FakeKubernetes,
} from '@ephemera/testkit';
import { AccountAllowList, ENVIRONMENT_ACTIONS, QUEUES, namespaceFor, type EnvironmentActionJob } from '@ephemera/schema';
import { pollGates } from '../src/jobs/cleanup/gates.js';
import { at, startHarness, type Harness } from './harness.js';
import { KUBE_SECOND_MS, kubeProvisionerFor } from './kube-provisioner.js';

// The deploy gate (`deploy.wait_for`) end to end: deliveries as GitHub sends them, `.ephemera.yml`, check runs and
// commit statuses served by the fake GitHub, and the Kubernetes provisioner against the fake API server.

/** Commits that differ in their first seven characters, as the comment and the statuses show them. */
const commit = (n: number) => createHash('sha1').update(`commit ${n}`).digest('hex');
const short = (n: number) => commit(n).slice(0, 7);

const REPO = 'acme/gated';
const CONFIG = (gate: string) => `version: 1
services:
  web:
    image: ghcr.io/acme/web:{{sha}}
    port: 3000
timeout_seconds: 600
${gate}`;
const GATED = CONFIG(`deploy:
  wait_for:
    - build
    - check: "docker / push"
      app: github-actions
  wait_timeout_minutes: 30
`);

const dirs: string[] = [];
let fake: FakeKubernetes;
let h: Harness;
let pr = 0;

beforeAll(async () => {
  fake = await startFakeKubernetes({ terminatingMs: 50, controllerDelayMs: 10, secondMs: KUBE_SECOND_MS });
  // A configured minute lasts a second: the 30-minute wait above is 30 s, longer than any test here waits.
  h = await startHarness({ provisionerFor: kubeProvisionerFor(fake, {}, dirs), gate: { minuteMs: 1_000 } });
});
afterAll(async () => {
  await h.close();
  await fake.close();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});
beforeEach(() => {
  pr++;
});

async function open(n: number, config = GATED) {
  h.fakeGithub!.setFile(REPO, commit(n), '.ephemera.yml', config);
  await h.deliver(pullRequestPayload({ action: 'opened', number: pr, repository: REPO, headSha: commit(n), updatedAt: at(1) }));
  await h.drain();
}

async function push(n: number, step: number, config = GATED) {
  h.fakeGithub!.setFile(REPO, commit(n), '.ephemera.yml', config);
  await h.deliver(pullRequestPayload({ action: 'synchronize', number: pr, repository: REPO, headSha: commit(n), updatedAt: at(step) }));
  await h.drain();
}

async function pass(n: number, opts: { event?: boolean; app?: string } = {}) {
  for (const name of ['build', 'docker / push']) {
    h.fakeGithub!.addCheckRun(REPO, commit(n), { name, status: 'completed', conclusion: 'success', app: opts.app ?? 'github-actions' });
    if (opts.event !== false) await h.deliver(checkRunPayload({ repository: REPO, sha: commit(n), name, conclusion: 'success', app: opts.app ?? 'github-actions' }), 'check_run');
  }
  await h.drain();
}

async function env() {
  return h.db.environment.findFirstOrThrow({ where: { repositoryFullName: REPO, prNumber: pr }, include: { deployments: { orderBy: { id: 'asc' } } } });
}

function comment(): string {
  return h.fakeGithub!.commentsOf(REPO, pr).at(-1)?.body ?? '';
}

function statusesOf(n: number) {
  return h.fakeGithub!.requests.filter((r) => r.method === 'POST' && r.path === `/repos/${REPO}/statuses/${commit(n)}`).map((r) => r.body as { state: string; description: string });
}

const deploymentsApplied = (namespace: string) => fake.list('apps/v1', 'Deployment', namespace);

describe('deploy gate: a commit is deployed once its checks have passed', () => {
  afterEach(async () => {
    expect(await h.failedJobs()).toEqual([]);
  });

  it('deploys at once when the checks had already passed before the pull request event', async () => {
    h.fakeGithub!.addCheckRun(REPO, commit(100), { name: 'build', status: 'completed', conclusion: 'success' });
    h.fakeGithub!.addCheckRun(REPO, commit(100), { name: 'docker / push', status: 'completed', conclusion: 'neutral' });
    await open(100);
    const e = await env();
    expect(e.status).toBe('READY');
    expect(e.deployments.map((d) => d.status)).toEqual(['SUCCESS']);
    expect(e.deployments[0]!.waitingSince).toBeNull();
    expect(deploymentsApplied(e.namespace)[0].spec.template.spec.containers[0].image).toBe(`ghcr.io/acme/web:${commit(100)}`);
  });

  it('waits without touching the cluster, says what for, then deploys when a check event reports the last one passed', async () => {
    await open(101);
    let e = await env();
    expect(e.status).toBe('PENDING');
    expect(e.deployments.map((d) => d.status)).toEqual(['WAITING']);
    expect(e.deployments[0]!.gateWaitingFor).toBe('`build`, `docker / push`');
    expect(fake.get('v1', 'Namespace', undefined, e.namespace)).toBeUndefined();
    expect(comment()).toContain(`Waiting for \`build\`, \`docker / push\` on \`${short(101)}\``);
    expect(statusesOf(101).at(-1)).toMatchObject({ state: 'pending', description: `Waiting for \`build\`, \`docker / push\` on \`${short(101)}\`` });

    // One of the two passes: still waiting, and the comment now names only the other.
    h.fakeGithub!.addCheckRun(REPO, commit(101), { name: 'build', status: 'completed', conclusion: 'success' });
    await h.deliver(checkRunPayload({ repository: REPO, sha: commit(101), name: 'build', conclusion: 'success' }), 'check_run');
    await h.drain();
    e = await env();
    expect(e.deployments.map((d) => d.status)).toEqual(['WAITING']);
    expect(comment()).toContain(`Waiting for \`docker / push\` on \`${short(101)}\``);

    h.fakeGithub!.addCheckRun(REPO, commit(101), { name: 'docker / push', status: 'completed', conclusion: 'success' });
    await h.deliver(checkRunPayload({ repository: REPO, sha: commit(101), name: 'docker / push', conclusion: 'success' }), 'check_run');
    await h.drain();
    e = await env();
    expect(e.status).toBe('READY');
    expect(e.deployments.map((d) => d.status)).toEqual(['SUCCESS']);
    expect(e.deployments[0]!.logs).toMatch(/waiting for `build`, `docker \/ push`[\s\S]*checks passed[\s\S]*rollout complete/);
    const waited = await h.metrics.registry.getSingleMetric('ephemera_gate_wait_seconds')!.get();
    expect(waited.values.find((v) => (v as { metricName?: string }).metricName === 'ephemera_gate_wait_seconds_count')?.value).toBeGreaterThanOrEqual(1);
  });

  it('a lost check event is made up for by the poll', async () => {
    await open(102);
    await pass(102, { event: false });
    expect((await env()).deployments.map((d) => d.status)).toEqual(['WAITING']);
    const before = (await h.metrics.registry.getSingleMetric('ephemera_gate_polls_total')!.get()).values[0]?.value ?? 0;
    // Not for an account outside ALLOWED_ACCOUNTS.
    expect(await pollGates({ ...h.jobContext(), accounts: AccountAllowList.of(['someone-else']) })).toBe('looked again at 0 waiting deployment(s)');
    expect(await pollGates(h.jobContext())).toBe('looked again at 1 waiting deployment(s)');
    await h.drain();
    const e = await env();
    expect(e.status).toBe('READY');
    expect(e.deployments.map((d) => d.status)).toEqual(['SUCCESS']);
    const after = (await h.metrics.registry.getSingleMetric('ephemera_gate_polls_total')!.get()).values[0]?.value ?? 0;
    expect(after - before).toBe(1);
  });

  it('a check of the same name by another App does not count when the entry names its App', async () => {
    await open(103);
    h.fakeGithub!.addCheckRun(REPO, commit(103), { name: 'build', status: 'completed', conclusion: 'success', app: 'circleci-checks' });
    h.fakeGithub!.addCheckRun(REPO, commit(103), { name: 'docker / push', status: 'completed', conclusion: 'success', app: 'evil-ci' });
    await h.deliver(checkRunPayload({ repository: REPO, sha: commit(103), name: 'docker / push', conclusion: 'success', app: 'evil-ci' }), 'check_run');
    await h.drain();
    // `build` (any App) passed; `docker / push` by github-actions has not run.
    let e = await env();
    expect(e.deployments.map((d) => d.status)).toEqual(['WAITING']);
    expect(e.deployments[0]!.gateWaitingFor).toBe('`docker / push`');
    h.fakeGithub!.addCheckRun(REPO, commit(103), { name: 'docker / push', status: 'completed', conclusion: 'success', app: 'github-actions' });
    await h.deliver(checkRunPayload({ repository: REPO, sha: commit(103), name: 'docker / push', conclusion: 'success' }), 'check_run');
    await h.drain();
    e = await env();
    expect(e.status).toBe('READY');
  });

  it('a failed check keeps the running preview on its commit and says why; a re-run that passes deploys the commit', async () => {
    await pass(104);
    await open(104);
    expect((await env()).status).toBe('READY');

    await push(105, 2);
    let e = await env();
    expect(e.status).toBe('READY');
    expect(e.deployments.map((d) => d.status)).toEqual(['SUCCESS', 'WAITING']);
    h.fakeGithub!.addCheckRun(REPO, commit(105), { name: 'build', status: 'completed', conclusion: 'failure', detailsUrl: 'https://ci.example/run/1' });
    await h.deliver(checkRunPayload({ repository: REPO, sha: commit(105), name: 'build', conclusion: 'failure', detailsUrl: 'https://ci.example/run/1' }), 'check_run');
    await h.drain();
    e = await env();
    expect(e.status).toBe('READY');
    const failed = e.deployments[1]!;
    expect(failed).toMatchObject({ status: 'FAILED', gateFailed: true });
    expect(failed.errorMessage).toBe(`check run "build" concluded failure on ${short(105)}: https://ci.example/run/1`);
    expect(deploymentsApplied(e.namespace)[0].spec.template.spec.containers[0].image).toBe(`ghcr.io/acme/web:${commit(104)}`);
    expect(comment()).toContain(`**Commit:** \`${short(104)}\``);
    expect(comment()).toContain(`The latest commit \`${short(105)}\` was not deployed; the preview still serves \`${short(104)}\``);
    expect(comment()).toContain('https://ci.example/run/1');
    expect(statusesOf(105).at(-1)).toMatchObject({ state: 'failure' });

    // The check is re-run on the same commit and passes; `docker / push`, which had not run, has not run yet.
    h.fakeGithub!.addCheckRun(REPO, commit(105), { name: 'build', status: 'completed', conclusion: 'success' });
    await h.deliver(checkRunPayload({ repository: REPO, sha: commit(105), name: 'build', conclusion: 'success' }), 'check_run');
    await h.drain();
    e = await env();
    expect(e.deployments.map((d) => d.status)).toEqual(['SUCCESS', 'FAILED']);
    h.fakeGithub!.addCheckRun(REPO, commit(105), { name: 'docker / push', status: 'completed', conclusion: 'success' });
    await h.deliver(checkSuitePayload({ repository: REPO, sha: commit(105), conclusion: 'success' }), 'check_suite');
    await h.drain();
    e = await env();
    expect(e.status).toBe('READY');
    expect(e.deployments.map((d) => d.status)).toEqual(['SUCCESS', 'FAILED', 'SUCCESS']);
    expect(deploymentsApplied(e.namespace)[0].spec.template.spec.containers[0].image).toBe(`ghcr.io/acme/web:${commit(105)}`);
  });

  it('a failed check fails a new environment; a re-run for a commit that is no longer the head deploys nothing', async () => {
    await open(106);
    h.fakeGithub!.addCommitStatus(REPO, commit(106), { context: 'build', state: 'error', targetUrl: 'https://ci.example/status/2' });
    await h.deliver(commitStatusPayload({ repository: REPO, sha: commit(106), context: 'build', state: 'error', targetUrl: 'https://ci.example/status/2' }), 'status');
    await h.drain();
    let e = await env();
    expect(e.status).toBe('FAILED');
    expect(e.errorMessage).toBe(`commit status "build" is error on ${short(106)}: https://ci.example/status/2`);

    // A newer push; then the old commit's check passes on a re-run.
    await push(107, 2);
    h.fakeGithub!.addCommitStatus(REPO, commit(106), { context: 'build', state: 'success' });
    await h.deliver(commitStatusPayload({ repository: REPO, sha: commit(106), context: 'build', state: 'success' }), 'status');
    await h.drain();
    e = await env();
    expect(e.deployments.map((d) => [d.commitSha, d.status])).toEqual([
      [commit(106), 'FAILED'],
      [commit(107), 'WAITING'],
    ]);
  });

  it('times out, naming what it still waits for and what the commit does have when a name never appeared', async () => {
    for (const name of ['build', 'test']) h.fakeGithub!.addCheckRun(REPO, commit(108), { name, status: 'completed', conclusion: 'success' });
    h.fakeGithub!.addCheckRun(REPO, commit(108), { name: 'lint', status: 'in_progress' });
    await open(108, CONFIG('deploy:\n  wait_for: [biuld, lint]\n  wait_timeout_minutes: 1\n'));
    expect((await env()).deployments.map((d) => d.status)).toEqual(['WAITING']);
    // The deadline's look runs a (configured) minute after the deployment started waiting.
    for (let i = 0; i < 100 && (await env()).status !== 'FAILED'; i++) await new Promise((r) => setTimeout(r, 50));
    await h.drain();
    const e = await env();
    expect(e.status).toBe('FAILED');
    expect(e.deployments[0]!.errorMessage).toBe(`still waiting for lint after 1 minute; no check run or status named "biuld" on ${short(108)}; seen: build, lint, test`);
    expect(fake.get('v1', 'Namespace', undefined, e.namespace)).toBeUndefined();
    const failures = await h.metrics.registry.getSingleMetric('ephemera_gate_failures_total')!.get();
    expect(failures.values.find((v) => v.labels.reason === 'missing')?.value).toBeGreaterThanOrEqual(1);
  });

  it('a newer push supersedes a waiting deployment; the old commit passing later deploys nothing', async () => {
    await open(109);
    await push(110, 2);
    let e = await env();
    expect(e.deployments.map((d) => [d.commitSha, d.status])).toEqual([
      [commit(109), 'FAILED'],
      [commit(110), 'WAITING'],
    ]);
    expect(e.deployments[0]!.errorMessage).toBe(`superseded by ${short(110)}`);
    await pass(109);
    e = await env();
    expect(e.deployments.map((d) => d.status)).toEqual(['FAILED', 'WAITING']);
    expect(fake.get('v1', 'Namespace', undefined, e.namespace)).toBeUndefined();
    await pass(110);
    e = await env();
    expect(e.status).toBe('READY');
    expect(deploymentsApplied(e.namespace)[0].spec.template.spec.containers[0].image).toBe(`ghcr.io/acme/web:${commit(110)}`);
  });

  it('closing the pull request while it waits destroys it', async () => {
    await open(111);
    await h.deliver(pullRequestPayload({ action: 'closed', number: pr, repository: REPO, headSha: commit(111), updatedAt: at(2) }));
    await h.drain();
    const e = await env();
    expect(e.status).toBe('DESTROYED');
    expect(e.deployments.map((d) => d.status)).toEqual(['FAILED']);
  });

  it('a redeploy of a commit whose gate failed reads its checks again first', async () => {
    h.fakeGithub!.addCheckRun(REPO, commit(113), { name: 'build', status: 'completed', conclusion: 'timed_out' });
    await open(113);
    let e = await env();
    expect(e.status).toBe('FAILED');
    // Without a details_url, the link is the check run's page.
    expect(e.errorMessage).toMatch(new RegExp(`^check run "build" concluded timed_out on ${short(113)}: https://github.com/${REPO}/runs/\\d+$`));
    const redeploy = async () => {
      const job: EnvironmentActionJob = { requestId: randomUUID(), environmentId: e.id, requestedBy: { login: 'operator', kind: 'operator' }, requestedAt: new Date().toISOString() };
      await h.queues.actions.add(ENVIRONMENT_ACTIONS.redeploy, h.sign(QUEUES.actions, ENVIRONMENT_ACTIONS.redeploy, job), { jobId: job.requestId });
      await h.drain();
      e = await env();
    };
    await redeploy();
    expect(e.status).toBe('FAILED');
    expect(e.deployments.map((d) => d.status)).toEqual(['FAILED', 'FAILED']);
    expect(fake.get('v1', 'Namespace', undefined, e.namespace)).toBeUndefined();
    // A re-run that is still running: the redeploy waits for it.
    h.fakeGithub!.addCheckRun(REPO, commit(113), { name: 'build', status: 'in_progress' });
    h.fakeGithub!.addCheckRun(REPO, commit(113), { name: 'docker / push', status: 'completed', conclusion: 'skipped' });
    await redeploy();
    expect(e.deployments.map((d) => d.status)).toEqual(['FAILED', 'FAILED', 'WAITING']);
    expect(e.status).toBe('PENDING');
    h.fakeGithub!.addCheckRun(REPO, commit(113), { name: 'build', status: 'completed', conclusion: 'success' });
    await h.deliver(checkRunPayload({ repository: REPO, sha: commit(113), name: 'build', conclusion: 'success' }), 'check_run');
    await h.drain();
    e = await env();
    expect(e.status).toBe('READY');
  });

  it('check events for another commit, or a repository Ephemera does not know, are processed and change nothing', async () => {
    await open(112);
    const other = await h.deliver(checkRunPayload({ repository: REPO, sha: commit(999), name: 'build', conclusion: 'success' }), 'check_run');
    const unknown = await h.deliver(checkRunPayload({ repository: 'someone/else', sha: commit(112), name: 'build', conclusion: 'success' }), 'check_run');
    await h.drain();
    expect((await env()).deployments.map((d) => d.status)).toEqual(['WAITING']);
    const processed = await h.db.processedDelivery.findMany({ where: { deliveryId: { in: [other, unknown] } } });
    expect(processed.map((p) => p.event).sort()).toEqual(['check_run', 'check_run']);
  });
});

describe('redeploy restarts the rollout', () => {
  it('a Deployment past its progress deadline rolls again: the pod template changes and the generation moves', async () => {
    pr++;
    // The first rollout of this preview exceeds its progress deadline; any later generation rolls out.
    const namespace = namespaceFor(REPO, pr, repositoryIdOf(REPO));
    fake.setRollout((ctx) => (ctx.namespace === namespace && ctx.generation === 1 ? 'ProgressDeadlineExceeded' : 'success'));
    h.fakeGithub!.setFile(REPO, commit(200), '.ephemera.yml', CONFIG('').replace('    port: 3000\n', '    port: 3000\n    health: { path: /healthz }\n'));
    await h.deliver(pullRequestPayload({ action: 'opened', number: pr, repository: REPO, headSha: commit(200), updatedAt: at(1) }));
    await h.drain();
    let e = await env();
    expect(e.status).toBe('FAILED');
    // The deadline ended it; the reason is its cause.
    expect(e.errorMessage).toMatch(/^web: readiness probe failing: /);
    const before = fake.get('apps/v1', 'Deployment', e.namespace, 'web');
    expect(before.metadata.generation).toBe(1);

    const job: EnvironmentActionJob = {
      requestId: randomUUID(),
      environmentId: e.id,
      requestedBy: { login: 'operator', kind: 'operator' },
      requestedAt: new Date().toISOString(),
    };
    await h.queues.actions.add(ENVIRONMENT_ACTIONS.redeploy, h.sign(QUEUES.actions, ENVIRONMENT_ACTIONS.redeploy, job), { jobId: job.requestId });
    await h.drain();
    e = await env();
    expect(e.status).toBe('READY');
    const after = fake.get('apps/v1', 'Deployment', e.namespace, 'web');
    expect(after.metadata.generation).toBe(2);
    expect(after.spec.template.metadata.annotations['ephemera.dev/restarted-at']).toBe(e.deployments.at(-1)!.createdAt.toISOString());
    expect(e.deployments.map((d) => d.status)).toEqual(['FAILED', 'SUCCESS']);
    // The first rollout's failure is its deploy job's only failure.
    expect((await h.failedJobs()).map((j) => j.id)).toEqual([`deploy-${e.deployments[0]!.id}`]);
    fake.setRollout(() => 'success');
  });
});
