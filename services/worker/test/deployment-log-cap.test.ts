import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pullRequestPayload } from '@ephemera/testkit';
import { mendStuck } from '../src/jobs/cleanup/stuck.js';
import { at, sha, startHarness, type Harness } from './harness.js';

// DEPLOYMENT_LOG_MAX_BYTES holds on every path that writes a deployment's logs, not only the provisioning job's:
// a push or close superseding a deployment, the sweep failing a stuck one, an installation's previews destroyed.

const MAX = 1_000;
const LONG = `${'x'.repeat(120)}\n`.repeat(40); // 4,840 bytes

describe('DEPLOYMENT_LOG_MAX_BYTES on every path that writes a deployment\'s logs', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ settings: { logMaxBytes: MAX } });
  });
  afterAll(() => h.close());

  /** Opens PR `pr` (on `installationId`) and gives it a deployment still under way, its logs already long. */
  async function underWay(pr: number, installationId = 1) {
    await h.deliver(pullRequestPayload({ action: 'opened', number: pr, repository: `acme/cap-${pr}`, headSha: sha(pr), updatedAt: at(1), installationId }));
    await h.drain();
    const env = await h.db.environment.findFirstOrThrow({ where: { repositoryFullName: `acme/cap-${pr}` } });
    const deployment = await h.db.deployment.create({ data: { environmentId: env.id, commitSha: sha(pr + 100), status: 'IN_PROGRESS', startedAt: new Date(), logs: LONG } });
    return { env, deployment };
  }
  const logsOf = async (id: number) => (await h.db.deployment.findUniqueOrThrow({ where: { id } })).logs ?? '';

  it('a pull request closed: the superseded deployment keeps its newest bytes, the reason last', async () => {
    const { deployment } = await underWay(1);
    await h.deliver(pullRequestPayload({ action: 'closed', number: 1, repository: 'acme/cap-1', headSha: sha(1), updatedAt: at(2) }));
    await h.drain();
    const logs = await logsOf(deployment.id);
    expect(Buffer.byteLength(logs)).toBeLessThanOrEqual(MAX);
    expect(logs).toContain('pull request closed');
  });

  it('the sweep failing a deployment stuck past twice the bound', async () => {
    const { env, deployment } = await underWay(2);
    await h.db.$executeRaw`UPDATE environments SET status = 'UPDATING', updated_at = now() - make_interval(mins => 70) WHERE id = ${env.id}`;
    expect(await mendStuck(h.jobContext())).toBe('retried 0, failed 1, destroys retried 0, waiting started 0');
    const logs = await logsOf(deployment.id);
    expect(Buffer.byteLength(logs)).toBeLessThanOrEqual(MAX);
    expect(logs).toContain('stuck in UPDATING for more than 60 minutes');
  });

  it('an installation GitHub confirms suspended: its previews destroyed', async () => {
    const { deployment } = await underWay(3, 77);
    h.fakeGithub!.setInstallation(77, 'suspended');
    await h.deliver({ action: 'suspend', installation: { id: 77, account: { login: 'acme' } }, sender: { id: 1, login: 'acme' } }, 'installation');
    await h.drain();
    const logs = await logsOf(deployment.id);
    expect(Buffer.byteLength(logs)).toBeLessThanOrEqual(MAX);
    expect(logs).toMatch(/suspended/);
  });
});
