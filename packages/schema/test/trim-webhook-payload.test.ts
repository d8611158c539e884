import { describe, expect, it } from '@jest/globals';
import { exampleEventNames, webhookExamples } from '@ephemera/testkit';
import { PayloadError, isHandled, trimWebhookPayload, webhookJobSchema } from '../src/index.js';

const meta = (event: string) => ({
  event,
  deliveryId: '72d3162e-cc78-11e3-81ab-4c9367dc0958',
  receivedAt: new Date('2026-01-01T00:00:00Z'),
});

describe(trimWebhookPayload.name, () => {
  it('turns every handled example GitHub publishes into a job the job schema accepts, and ignores the rest', () => {
    let handled = 0;
    let ignored = 0;
    for (const event of exampleEventNames()) {
      for (const example of webhookExamples(event)) {
        const job = trimWebhookPayload(meta(event), example);
        if (isHandled(event, example.action as string | undefined)) {
          expect(webhookJobSchema.safeParse(job).success).toBe(true);
          handled++;
        } else {
          expect(job).toBeNull();
          ignored++;
        }
      }
    }
    expect(handled).toBeGreaterThan(20);
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
