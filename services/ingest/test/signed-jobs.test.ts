import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { JOB_SIGNATURE_FIELD, JobSigner } from '@ephemera/runtime';
import { QUEUES, webhookJobSchema } from '@ephemera/schema';
import { pullRequestPayload, signedDelivery } from '@ephemera/testkit';
import { WEBHOOK_PATH } from '../src/app.js';
import { SECRET, SIGNING_KEY, buildIngest } from './support.js';

// Every job ingest stores carries its proof of origin: an HMAC with QUEUE_SIGNING_KEY over its queue, name and
// payload, which the worker checks before it trusts the job with anything.

const sut = buildIngest();
afterAll(() => sut.close());

describe('jobs ingest stores', () => {
  it('are signed with QUEUE_SIGNING_KEY over their name and payload, exactly as Redis gives them back', async () => {
    const d = await signedDelivery(SECRET, 'pull_request', pullRequestPayload({ action: 'synchronize', number: 7 }));
    const res = await request(sut.app).post(WEBHOOK_PATH).set(d.headers).send(d.body);
    expect(res.body.status).toBe('queued');
    const job = (await sut.queue.queue.getJob(d.deliveryId))!;
    expect(job.name).toBe('pull_request.synchronize');
    expect(job.data[JOB_SIGNATURE_FIELD]).toMatch(/^v1=[0-9a-f]{64}$/);
    const verdict = new JobSigner(SIGNING_KEY).verify(QUEUES.webhooks, job.name, job.data);
    expect(verdict).toMatchObject({ ok: true });
    // The payload is the delivery's job, the signature aside.
    expect(webhookJobSchema.parse(verdict.ok && verdict.payload)).toMatchObject({ deliveryId: d.deliveryId, event: 'pull_request', action: 'synchronize' });
    // Another key, another name: not this job's signature.
    expect(new JobSigner(randomBytes(32).toString('hex')).verify(QUEUES.webhooks, job.name, job.data)).toEqual({ ok: false, reason: 'invalid' });
    expect(new JobSigner(SIGNING_KEY).verify(QUEUES.webhooks, 'pull_request.closed', job.data)).toEqual({ ok: false, reason: 'invalid' });
  });
});
