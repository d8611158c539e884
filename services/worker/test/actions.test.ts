import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ENVIRONMENT_ACTIONS, QUEUES, type ActionRequester, type EnvironmentAction } from '@ephemera/schema';
import { writeEnvironmentAction } from '@ephemera/db';
import { pullRequestPayload } from '@ephemera/testkit';
import { NoneProvisioner } from '../src/provisioners/none-provisioner.js';
import { ProvisionError, type LogSink, type ProvisionTarget } from '../src/provisioners/provisioner.js';
import { at, sha, startHarness, type Harness } from './harness.js';

const REPO = 'Codertocat/Hello-World';
const OCTOCAT: ActionRequester = { kind: 'github', login: 'octocat' };

/** The simulated provisioner, failing every deploy of the pull requests in `broken` for good. */
class BreakableProvisioner extends NoneProvisioner {
  readonly broken = new Set<number>();
  override async provision(target: ProvisionTarget, log: LogSink, signal: AbortSignal) {
    if (this.broken.has(target.prNumber)) throw new ProvisionError('image ghcr.io/acme/app:abc not found', false);
    return super.provision(target, log, signal);
  }
}

/** Queues an action as the query service does; the job id defaults to the request id. */
async function ask(
  h: Harness,
  action: EnvironmentAction,
  environmentId: number,
  options: { requestId?: string; jobId?: string; by?: ActionRequester; requestedAt?: Date } = {},
) {
  const requestId = options.requestId ?? randomUUID();
  const requestedAt = options.requestedAt ?? new Date();
  const name = ENVIRONMENT_ACTIONS[action];
  const job = await h.queues.actions.add(
    name,
    h.sign(QUEUES.actions, name, { requestId, environmentId, requestedBy: options.by ?? OCTOCAT, requestedAt: requestedAt.toISOString() }),
    { jobId: options.jobId ?? requestId, attempts: 3 },
  );
  return { requestId, requestedAt, jobId: job.id! };
}

async function resultOf(h: Harness, jobId: string): Promise<unknown> {
  return (await h.queues.actions.getJob(jobId))?.returnvalue;
}

async function open(h: Harness, number: number, n: number) {
  await h.deliver(pullRequestPayload({ action: 'opened', number, headSha: sha(n), updatedAt: at(n) }));
  await h.drain();
  return h.db.environment.findFirstOrThrow({ where: { prNumber: number } });
}

const comment = (h: Harness, number: number) => h.fakeGithub!.commentsOf(REPO, number).at(-1)?.body ?? '';
const deploymentsOf = (h: Harness, environmentId: number) => h.db.deployment.findMany({ where: { environmentId }, orderBy: { id: 'asc' } });
const apiJson = async (h: Harness, id: number) =>
  JSON.parse((await h.db.$queryRaw<Array<{ api_json: string }>>`SELECT api_json FROM environments WHERE id = ${id}`)[0]!.api_json) as Record<string, unknown>;

describe('redeploy and destroy asked for from the dashboard or the write API', () => {
  let h: Harness;
  const provisioner = new BreakableProvisioner(20);
  beforeAll(async () => {
    h = await startHarness({ provisioner });
  });
  afterAll(() => h.close());

  it('redeploy of a READY environment: a new deployment of the same commit ends SUCCESS, recorded with who asked', async () => {
    const env = await open(h, 1, 1);
    expect(env.status).toBe('READY');
    const { requestId, requestedAt, jobId } = await ask(h, 'redeploy', env.id);
    await h.drain();

    expect(await resultOf(h, jobId)).toMatch(/^redeploy queued/);
    const deployments = await deploymentsOf(h, env.id);
    expect(deployments.map((d) => [d.commitSha, d.status])).toEqual([
      [sha(1), 'SUCCESS'],
      [sha(1), 'SUCCESS'],
    ]);
    expect(deployments[1]!.commitMessage).toBe('redeploy asked for by @octocat');
    expect(deployments[1]!.logs).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z redeploy asked for by @octocat \(github\) from the dashboard\n/);
    expect(deployments[1]!.logs).toMatch(/rollout complete/);

    const after = await h.db.environment.findUniqueOrThrow({ where: { id: env.id } });
    expect(after).toMatchObject({ status: 'READY', lastAction: 'redeploy', lastActionBy: 'octocat', lastActionKind: 'github', lastActionAt: requestedAt });
    expect(await apiJson(h, env.id)).toMatchObject({ last_action: 'redeploy', last_action_by: 'octocat', last_action_kind: 'github', last_action_at: expect.stringMatching(/\+00:00$/) });
    expect(await h.db.processedDelivery.findUnique({ where: { deliveryId: requestId } })).toMatchObject({ event: 'environment', action: 'redeploy' });

    expect(comment(h, 1)).toMatch(/Redeployed from the dashboard by @octocat\./);
    expect(comment(h, 1)).toMatch(/Ready/);
    expect(comment(h, 1)).not.toMatch(/Environment page/);
    expect(await h.failedJobs()).toHaveLength(0);
  });

  it('redeploy of a FAILED environment: PENDING again, then READY; the failed deployment stays as it was', async () => {
    provisioner.broken.add(2);
    const env = await open(h, 2, 2);
    expect(env.status).toBe('FAILED');
    provisioner.broken.delete(2);
    // The deploy that failed on purpose, so the tests after this one see only failures they did not expect.
    for (const job of await h.queues.provisioning.getFailed()) await job.remove();

    const { jobId } = await ask(h, 'redeploy', env.id, { by: { kind: 'token', login: 'ci-bot' } });
    await h.drain();
    expect(await resultOf(h, jobId)).toMatch(/^redeploy queued/);
    const deployments = await deploymentsOf(h, env.id);
    expect(deployments.map((d) => [d.commitSha, d.status])).toEqual([
      [sha(2), 'FAILED'],
      [sha(2), 'SUCCESS'],
    ]);
    expect(deployments[1]!.logs).toMatch(/redeploy asked for by @ci-bot \(token\) through the API/);
    const after = await h.db.environment.findUniqueOrThrow({ where: { id: env.id } });
    expect(after).toMatchObject({ status: 'READY', errorMessage: null, lastAction: 'redeploy', lastActionBy: 'ci-bot', lastActionKind: 'token' });
    // A token's label is no GitHub account: it is named, never @-mentioned.
    expect(comment(h, 2)).toMatch(/Redeployed through the API by the API token `ci-bot`\./);
    expect(comment(h, 2)).not.toMatch(/@ci-bot/);
  });

  it('destroy of a READY environment: DESTROYED, the comment says who asked; an edit keeps it gone, a push brings it back', async () => {
    const env = await open(h, 3, 3);
    const { jobId } = await ask(h, 'destroy', env.id);
    await h.drain();

    expect(await resultOf(h, jobId)).toBe('destroy queued');
    const destroyed = await h.db.environment.findUniqueOrThrow({ where: { id: env.id } });
    expect(destroyed).toMatchObject({ status: 'DESTROYED', lastAction: 'destroy', lastActionBy: 'octocat', lastActionKind: 'github' });
    expect(destroyed.destroyedAt).toBeInstanceOf(Date);
    const [latest] = (await deploymentsOf(h, env.id)).reverse();
    expect(latest!.logs).toMatch(/Z destroy asked for by @octocat \(github\) from the dashboard\n/);
    expect(latest!.logs).toMatch(/namespace .* deleted/);
    expect(comment(h, 3)).toMatch(/destroyed from the dashboard by @octocat/i);
    expect(comment(h, 3)).toMatch(/Removed/);

    // A push made before the destroy, delivered late, is stale as after a close.
    await h.deliver(pullRequestPayload({ action: 'synchronize', number: 3, headSha: sha(29), updatedAt: at(29) }));
    await h.drain();
    expect(await h.db.environment.findUniqueOrThrow({ where: { id: env.id } })).toMatchObject({ status: 'DESTROYED', commitSha: sha(3) });
    expect(await h.db.deployment.count({ where: { environmentId: env.id } })).toBe(1);

    // The pull request is still open: as after a close, only a push or a reopen brings the preview back.
    const later = (s: number) => new Date(Date.now() + s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    await h.deliver(pullRequestPayload({ action: 'edited', number: 3, headSha: sha(3), updatedAt: later(30), title: 'Renamed' }));
    await h.drain();
    expect(await h.db.environment.findUniqueOrThrow({ where: { id: env.id } })).toMatchObject({ status: 'DESTROYED', prTitle: 'Renamed' });
    expect(await h.db.deployment.count({ where: { environmentId: env.id } })).toBe(1);
    expect(comment(h, 3)).toMatch(/destroyed from the dashboard by @octocat/i);

    await h.deliver(pullRequestPayload({ action: 'synchronize', number: 3, headSha: sha(31), updatedAt: later(31) }));
    await h.drain();
    const back = await h.db.environment.findUniqueOrThrow({ where: { id: env.id } });
    expect(back).toMatchObject({ status: 'READY', commitSha: sha(31), namespace: env.namespace, destroyedAt: null });
    expect((await deploymentsOf(h, env.id)).at(-1)).toMatchObject({ commitSha: sha(31), status: 'SUCCESS' });
    expect(comment(h, 3)).not.toMatch(/destroyed from the dashboard/i);
    expect(await h.failedJobs()).toHaveLength(0);
  });

  it('an operator is named in the comment, not @-mentioned', async () => {
    const env = await open(h, 4, 4);
    await ask(h, 'destroy', env.id, { by: { kind: 'operator', login: 'admin' } });
    await h.drain();
    expect((await h.db.environment.findUniqueOrThrow({ where: { id: env.id } })).status).toBe('DESTROYED');
    expect(comment(h, 4)).toMatch(/Destroyed from the dashboard by the operator `admin`\./);
    expect(comment(h, 4)).not.toMatch(/@admin/);
  });

  it('an action that no longer applies changes nothing and says so', async () => {
    const env = await h.db.environment.findFirstOrThrow({ where: { prNumber: 4 } });
    expect(env.status).toBe('DESTROYED');
    const before = await h.snapshot();
    const deployments = await h.db.deployment.count();
    const destroy = await ask(h, 'destroy', env.id);
    const redeploy = await ask(h, 'redeploy', env.id);
    await h.drain();

    expect(await resultOf(h, destroy.jobId)).toMatch(/^skipped: destroy no longer applies \(the environment is DESTROYED\)/);
    expect(await resultOf(h, redeploy.jobId)).toMatch(/^skipped: redeploy no longer applies/);
    expect(await h.snapshot()).toEqual(before);
    expect(await h.db.deployment.count()).toBe(deployments);
    expect(await h.db.environment.findUniqueOrThrow({ where: { id: env.id } })).toMatchObject({ lastActionBy: 'admin', lastActionKind: 'operator' });
    expect(await h.db.processedDelivery.count({ where: { deliveryId: { in: [destroy.requestId, redeploy.requestId] } } })).toBe(0);
    expect(h.logLines.some((l) => l.includes('destroy no longer applies') && l.includes(destroy.requestId))).toBe(true);
    expect(await h.failedJobs()).toHaveLength(0);
  });

  it('redeploy of an environment whose pull request was closed meanwhile changes nothing', async () => {
    const env = await open(h, 5, 5);
    // Closed, as far as the worker knows, without the teardown having started yet.
    await h.db.pullRequestState.updateMany({ where: { prNumber: 5 }, data: { lastPrState: 'closed' } });
    const { jobId } = await ask(h, 'redeploy', env.id);
    await h.drain();
    expect(await resultOf(h, jobId)).toBe('skipped: redeploy no longer applies (the pull request is closed)');
    expect(await h.db.deployment.count({ where: { environmentId: env.id } })).toBe(1);
    expect((await h.db.environment.findUniqueOrThrow({ where: { id: env.id } })).lastAction).toBeNull();
  });

  it('the same request queued twice applies once', async () => {
    const env = await open(h, 6, 6);
    const requestId = randomUUID();
    const first = await ask(h, 'redeploy', env.id, { requestId, jobId: `${requestId}-a` });
    await h.drain();
    const second = await ask(h, 'redeploy', env.id, { requestId, jobId: `${requestId}-b` });
    await h.drain();

    expect(await resultOf(h, first.jobId)).toMatch(/^redeploy queued/);
    expect(await resultOf(h, second.jobId)).toBe('duplicate');
    expect((await deploymentsOf(h, env.id)).map((d) => d.status)).toEqual(['SUCCESS', 'SUCCESS']);
    expect(await h.db.processedDelivery.count({ where: { deliveryId: requestId } })).toBe(1);
  });

  it('the same request run by two workers at once applies once', async () => {
    const env = await h.db.environment.findFirstOrThrow({ where: { prNumber: 6 } });
    const requestId = randomUUID();
    await Promise.all(['a', 'b', 'c'].map((s) => ask(h, 'destroy', env.id, { requestId, jobId: `${requestId}-${s}` })));
    await h.drain();
    const results = await Promise.all(['a', 'b', 'c'].map((s) => resultOf(h, `${requestId}-${s}`)));
    expect(results.filter((r) => r === 'destroy queued')).toHaveLength(1);
    expect(results.filter((r) => r === 'duplicate')).toHaveLength(2);
    expect((await h.db.environment.findUniqueOrThrow({ where: { id: env.id } })).status).toBe('DESTROYED');
    const latest = (await deploymentsOf(h, env.id)).at(-1)!;
    expect(latest.logs!.match(/destroy asked for by/g)).toHaveLength(1);
  });

  it('a request applied by a job that died before queueing its follow-ups is finished by its retry', async () => {
    const env = await open(h, 8, 8);
    const requestId = randomUUID();
    // What the job's transaction committed before its process died.
    await h.db.$transaction((tx) =>
      writeEnvironmentAction(tx, {
        requestId,
        action: 'destroy',
        requestedBy: OCTOCAT,
        requestedAt: new Date(),
        environment: env,
        to: 'DESTROYING',
        supersedeReason: 'destroyed from the dashboard by @octocat',
        deployment: null,
        logLine: 'destroy asked for by @octocat (github) from the dashboard\n',
        note: 'Destroyed from the dashboard by @octocat.',
      }),
    );
    const { jobId } = await ask(h, 'destroy', env.id, { requestId });
    await h.drain();
    expect(await resultOf(h, jobId)).toBe('duplicate');
    expect((await h.db.environment.findUniqueOrThrow({ where: { id: env.id } })).status).toBe('DESTROYED');
    expect(comment(h, 8)).toMatch(/Destroyed from the dashboard by @octocat/);
  });

  it('an action job whose payload does not parse fails at once and changes nothing', async () => {
    const env = await open(h, 7, 7);
    const before = await h.snapshot();
    await h.queues.actions.add(
      ENVIRONMENT_ACTIONS.destroy,
      h.sign(QUEUES.actions, ENVIRONMENT_ACTIONS.destroy, { requestId: 'not-a-guid', environmentId: env.id, requestedBy: OCTOCAT, requestedAt: new Date().toISOString() }),
      { jobId: 'bad-action', attempts: 5 },
    );
    await h.drain();
    const job = await h.queues.actions.getJob('bad-action');
    expect(await job!.getState()).toBe('failed');
    expect(job!.attemptsMade).toBeLessThanOrEqual(1);
    expect(job!.failedReason).toMatch(/invalid environment.destroy job: requestId/);
    expect(await h.snapshot()).toEqual(before);
  });
});

describe('the comment links the environment page when PUBLIC_URL is set', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ publicUrl: 'https://ephemera.example.com/' });
  });
  afterAll(() => h.close());

  it('has a line with <PUBLIC_URL>/environments/<id>, without a doubled slash', async () => {
    const env = await open(h, 11, 11);
    expect(comment(h, 11)).toContain(`**Environment page:** https://ephemera.example.com/environments/${env.id}`);
  });
});
