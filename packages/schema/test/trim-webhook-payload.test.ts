import { describe, expect, it } from '@jest/globals';
import { exampleEventNames, webhookExamples } from '@ephemera/testkit';
import { PayloadError, trimWebhookPayload, webhookJobSchema } from '../src/index.js';

const meta = (event: string) => ({
  event,
  deliveryId: '72d3162e-cc78-11e3-81ab-4c9367dc0958',
  receivedAt: new Date('2026-01-01T00:00:00Z'),
});

describe(trimWebhookPayload.name, () => {
  it('turns every example GitHub publishes of what the worker acts on into a job the job schema accepts, and ignores the rest', () => {
    // Written out here rather than read from HANDLED_EVENTS, which decides what trimWebhookPayload keeps.
    const actedOn = [
      'pull_request.opened', 'pull_request.reopened', 'pull_request.synchronize', 'pull_request.closed',
      'pull_request.edited', 'pull_request.labeled', 'pull_request.unlabeled', 'pull_request.ready_for_review',
      'pull_request.converted_to_draft', 'installation.deleted', 'installation.suspend', 'installation.unsuspend',
      'installation_repositories.removed', 'check_run.completed', 'check_suite.completed', 'workflow_run.completed',
      'status.undefined',
    ];
    const jobs = new Set<string>();
    let ignored = 0;
    for (const event of exampleEventNames()) {
      for (const example of webhookExamples(event)) {
        const name = `${event}.${String(example.action)}`;
        const job = trimWebhookPayload(meta(event), example);
        expect(`${name}: ${job === null ? 'ignored' : 'a job'}`).toBe(`${name}: ${actedOn.includes(name) ? 'a job' : 'ignored'}`);
        if (job === null) {
          ignored++;
        } else {
          expect(webhookJobSchema.safeParse(job).error).toBeUndefined();
          jobs.add(name);
        }
      }
    }
    // GitHub publishes an example of every action the worker acts on but pull_request.edited.
    expect([...jobs].sort()).toEqual(actedOn.filter((n) => n !== 'pull_request.edited').sort());
    expect(ignored).toBeGreaterThan(100);
  });

  it('keeps of a commit check event its repository, commit and check name, and nothing else', () => {
    const run = webhookExamples('check_run').find((e) => e.action === 'completed')! as { check_run: { name: string; head_sha: string }; repository: { id: number } };
    expect(trimWebhookPayload(meta('check_run'), run)).toEqual({
      deliveryId: meta('x').deliveryId,
      receivedAt: '2026-01-01T00:00:00.000Z',
      event: 'check_run',
      action: 'completed',
      installationId: null,
      repository: { id: run.repository.id, fullName: 'Codertocat/Hello-World', name: 'Hello-World', ownerLogin: 'Codertocat' },
      sha: run.check_run.head_sha,
      name: run.check_run.name,
    });
    const status = webhookExamples('status').find((e) => e.installation)! as { sha: string; context: string; installation: { id: number } };
    expect(trimWebhookPayload(meta('status'), status)).toMatchObject({ event: 'status', action: null, sha: status.sha, name: status.context, installationId: status.installation.id });
    const suite = webhookExamples('check_suite').find((e) => e.action === 'completed')! as { check_suite: { head_sha: string } };
    expect(trimWebhookPayload(meta('check_suite'), suite)).toMatchObject({ event: 'check_suite', action: 'completed', sha: suite.check_suite.head_sha, name: null });
    const workflow = webhookExamples('workflow_run').find((e) => e.action === 'completed')! as { workflow_run: { head_sha: string } };
    expect(trimWebhookPayload(meta('workflow_run'), workflow)).toMatchObject({ event: 'workflow_run', sha: workflow.workflow_run.head_sha, name: null });
  });

  it('ignores a commit status delivery that claims an action', () => {
    const status = { ...webhookExamples('status')[0]!, action: 'completed' };
    expect(trimWebhookPayload(meta('status'), status)).toBeNull();
  });

  it('names the offending field of a handled event that lacks what the worker needs', () => {
    const [example] = webhookExamples('pull_request').filter((e) => e.action === 'opened');
    const broken = structuredClone(example!) as { pull_request: { head: { sha: string } } };
    broken.pull_request.head.sha = 'not-a-sha';
    expect(() => trimWebhookPayload(meta('pull_request'), broken)).toThrow(PayloadError);
    expect(() => trimWebhookPayload(meta('pull_request'), broken)).toThrow(/pull_request\.head\.sha/);
  });

  it('refuses a delivery id that is not a GUID', () => {
    const [example] = webhookExamples('pull_request').filter((e) => e.action === 'opened');
    expect(() => trimWebhookPayload({ ...meta('pull_request'), deliveryId: 'abc' }, example)).toThrow(PayloadError);
  });
});
