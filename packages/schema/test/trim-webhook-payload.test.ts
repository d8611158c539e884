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
      'installation_repositories.removed',
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
