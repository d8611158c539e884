import { createHmac } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Worker } from 'bullmq';
import request from 'supertest';
import { createRedis } from '@ephemera/runtime';
import { HANDLED_EVENTS, QUEUES, WEBHOOK_JOB_OPTIONS, webhookJobSchema, type PullRequestJob } from '@ephemera/schema';
import { signBody, signedDelivery, webhookExample, webhookExamples, type SignedDelivery } from '@ephemera/testkit';
import { WEBHOOK_PATH, createServer } from '../src/app.js';
import { SECRET, buildIngest, redisUrl } from './support.js';

const sut = buildIngest();
const server = createServer(sut.app);
beforeAll(() => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)));
afterAll(async () => {
  server.close();
  await sut.close();
});

/** HMAC-SHA256 of raw bytes, as GitHub computes it (for bodies a string cannot carry). */
function hmac(bytes: Buffer): string {
  return `sha256=${createHmac('sha256', SECRET).update(bytes).digest('hex')}`;
}

/** Sends the exact bytes given: supertest would re-encode a Buffer sent with a JSON content type. */
function postRaw(headers: Record<string, string>, body: Buffer): Promise<{ status: number; type: string; body: Record<string, unknown> }> {
  const { port } = server.address() as net.AddressInfo;
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: 'POST', path: WEBHOOK_PATH, headers: { ...headers, 'content-length': String(body.length) } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            type: (res.headers['content-type'] ?? '').split(';')[0]!,
            body: JSON.parse(text) as Record<string, unknown>,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function deliver(event: string, payload: unknown, options: { deliveryId?: string; secret?: string } = {}) {
  const d = await signedDelivery(options.secret ?? SECRET, event, payload, options);
  const res = await request(sut.app).post(WEBHOOK_PATH).set(d.headers).send(d.body);
  return { res, delivery: d };
}

/** GitHub's examples have no `pull_request.edited`; it is the opened payload with `changes`, as GitHub sends it. */
function pullRequestExample(action: string): Record<string, unknown> {
  if (action === 'edited') {
    const p = webhookExample('pull_request', 'opened', { withInstallation: true });
    return { ...p, action: 'edited', changes: { title: { from: 'Old title' } } };
  }
  try {
    return webhookExample('pull_request', action, { withInstallation: true });
  } catch {
    return webhookExample('pull_request', action);
  }
}

describe('handled events', () => {
  it.each(HANDLED_EVENTS.pull_request.map((a) => [a]))(
    'queues pull_request.%s with the trimmed payload, job id = delivery id',
    async (action) => {
      const payload = pullRequestExample(action) as {
        pull_request: { number: number; head: { sha: string; ref: string }; title: string; user: { login: string } };
        repository: { full_name: string };
        installation?: { id: number };
      };
      const { res, delivery } = await deliver('pull_request', payload);
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ delivery_id: delivery.deliveryId, status: 'queued' });

      const job = await sut.queue.queue.getJob(delivery.deliveryId);
      expect(job?.name).toBe(`pull_request.${action}`);
      const data = webhookJobSchema.parse(job!.data) as PullRequestJob;
      expect(data).toMatchObject({
        deliveryId: delivery.deliveryId,
        event: 'pull_request',
        action,
        installationId: payload.installation?.id ?? null,
        repository: { fullName: payload.repository.full_name },
        pullRequest: {
          number: payload.pull_request.number,
          headSha: payload.pull_request.head.sha,
          headRef: payload.pull_request.head.ref,
          title: payload.pull_request.title,
          author: { login: payload.pull_request.user.login },
        },
      });
      // Only what the worker needs travels: a fraction of GitHub's 20–30 KB.
      expect(JSON.stringify(job!.data).length).toBeLessThan(2_000);
      expect(delivery.body.length).toBeGreaterThan(10_000);
    },
  );

  it('carries the label of labeled and unlabeled', async () => {
    const payload = webhookExample('pull_request', 'labeled', { withInstallation: true }) as { label: { name: string } };
    const { delivery } = await deliver('pull_request', payload);
    const job = await sut.queue.queue.getJob(delivery.deliveryId);
    expect((job!.data as PullRequestJob).label).toBe(payload.label.name);
  });

  it('carries the head before the push of synchronize', async () => {
    const payload = webhookExample('pull_request', 'synchronize', { withInstallation: true }) as { before: string };
    const { delivery } = await deliver('pull_request', payload);
    const job = await sut.queue.queue.getJob(delivery.deliveryId);
    expect((job!.data as PullRequestJob).before).toBe(payload.before);
  });

  it.each(HANDLED_EVENTS.pull_request_review.map((a) => [a]))('queues pull_request_review.%s with the pull request and the review', async (action) => {
    const payload = webhookExample('pull_request_review', action, { withInstallation: true }) as {
      pull_request: { number: number; head: { sha: string } };
      review: { id: number; commit_id: string; state: string; user: { login: string } };
      installation: { id: number };
    };
    const { res, delivery } = await deliver('pull_request_review', payload);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ delivery_id: delivery.deliveryId, status: 'queued' });
    const job = await sut.queue.queue.getJob(delivery.deliveryId);
    expect(job?.name).toBe(`pull_request_review.${action}`);
    expect(webhookJobSchema.parse(job!.data)).toMatchObject({
      event: 'pull_request_review',
      action,
      installationId: payload.installation.id,
      pullRequest: { number: payload.pull_request.number, headSha: payload.pull_request.head.sha },
      review: { id: payload.review.id, commitId: payload.review.commit_id, state: payload.review.state, user: { login: payload.review.user.login } },
    });
    expect(JSON.stringify(job!.data).length).toBeLessThan(2_000);
  });

  it.each(HANDLED_EVENTS.installation.map((a) => [a]))('queues installation.%s', async (action) => {
    const payload = webhookExample('installation', action) as { installation: { id: number } };
    const { res, delivery } = await deliver('installation', payload);
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('queued');
    const job = await sut.queue.queue.getJob(delivery.deliveryId);
    expect(job?.data).toMatchObject({ event: 'installation', action, installationId: payload.installation.id });
  });

  it('queues installation_repositories.removed with the removed repositories', async () => {
    const payload = webhookExample('installation_repositories', 'removed') as {
      repositories_removed: Array<{ full_name: string }>;
    };
    const { res, delivery } = await deliver('installation_repositories', payload);
    expect(res.status).toBe(202);
    const job = await sut.queue.queue.getJob(delivery.deliveryId);
    expect(job?.data).toMatchObject({
      event: 'installation_repositories',
      repositoriesRemoved: payload.repositories_removed.map((r) => r.full_name),
    });
  });

  it.each([
    ['check_run', 'completed', 'check_run.completed'],
    ['check_suite', 'completed', 'check_suite.completed'],
    ['workflow_run', 'completed', 'workflow_run.completed'],
    ['status', undefined, 'status'],
  ] as const)('queues %s %s behind pull request deliveries, with its commit', async (event, action, name) => {
    const payload = webhookExamples(event).find((e) => e.action === action)!;
    const { res, delivery } = await deliver(event, payload);
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('queued');
    const job = await sut.queue.queue.getJob(delivery.deliveryId);
    expect(job?.name).toBe(name);
    // A lower priority than pull request deliveries, which BullMQ takes first.
    expect(job?.opts.priority).toBeGreaterThan(0);
    expect(job?.data).toMatchObject({ event, action: action ?? null, sha: expect.stringMatching(/^[0-9a-f]{40}$/) });
    const pr = await deliver('pull_request', pullRequestExample('opened'));
    expect((await sut.queue.queue.getJob(pr.delivery.deliveryId))?.opts.priority ?? 0).toBe(0);
  });

  it('ignores the other actions of commit check events', async () => {
    for (const [event, action] of [['check_run', 'created'], ['check_run', 'rerequested'], ['check_suite', 'requested'], ['workflow_run', 'requested']] as const) {
      const payload = webhookExamples(event).find((e) => e.action === action)!;
      const { res, delivery } = await deliver(event, payload);
      expect(`${event}.${action}: ${String(res.body.status)}`).toBe(`${event}.${action}: ignored`);
      expect(await sut.queue.queue.getJob(delivery.deliveryId)).toBeUndefined();
    }
  });

  it('queues a repository webhook without an installation, for the worker to report', async () => {
    const payload = pullRequestExample('opened');
    delete payload.installation;
    const { res, delivery } = await deliver('pull_request', payload);
    expect(res.status).toBe(202);
    expect((await sut.queue.queue.getJob(delivery.deliveryId))?.data).toMatchObject({ installationId: null });
  });
});

describe('events the worker does not act on', () => {
  it.each([
    ['push', undefined],
    ['pull_request', 'assigned'],
    ['pull_request', 'review_requested'],
    ['installation', 'created'],
    ['installation_repositories', 'added'],
    ['issues', 'opened'],
  ])('answers %s.%s with 202 ignored and queues nothing', async (event, action) => {
    const before = await sut.jobCount();
    const { res, delivery } = await deliver(event!, webhookExample(event!, action));
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ delivery_id: delivery.deliveryId, status: 'ignored' });
    expect(await sut.jobCount()).toBe(before);
  });

  it('answers ping with 200', async () => {
    const { res } = await deliver('ping', webhookExample('ping'));
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('pong');
  });
});

describe('bad input: a 4xx, a JSON body that says why, and nothing queued', () => {
  const payload = webhookExample('pull_request', 'opened', { withInstallation: true });
  const body = JSON.stringify(payload);

  type Case = [name: string, status: number, error: string, build: () => Promise<{ headers: Record<string, string>; body: string | Buffer }>];
  const cases: Case[] = [
    ['no signature', 401, 'missing_signature', async () => {
      const d = await signedDelivery(SECRET, 'pull_request', payload);
      const { ['x-hub-signature-256']: _, ...headers } = d.headers;
      return { headers, body: d.body };
    }],
    ['wrong secret', 401, 'invalid_signature', async () => signedDelivery('not-the-secret', 'pull_request', payload)],
    ['body changed after signing', 401, 'invalid_signature', async () => {
      const d = await signedDelivery(SECRET, 'pull_request', payload);
      return { headers: d.headers, body: d.body.replace('"opened"', '"closed"') };
    }],
    ['signature of another body', 401, 'invalid_signature', async () => {
      const d = await signedDelivery(SECRET, 'pull_request', payload);
      return { headers: { ...d.headers, 'x-hub-signature-256': await signBody(SECRET, '{"other":true}') }, body: d.body };
    }],
    ['sha1= signature only', 401, 'missing_signature', async () => {
      const d = await signedDelivery(SECRET, 'pull_request', payload);
      const { ['x-hub-signature-256']: _, ...headers } = d.headers;
      return { headers: { ...headers, 'x-hub-signature': 'sha1=0123456789abcdef0123456789abcdef01234567' }, body: d.body };
    }],
    ['sha1= in the sha256 header', 401, 'invalid_signature', async () => {
      const d = await signedDelivery(SECRET, 'pull_request', payload);
      return { headers: { ...d.headers, 'x-hub-signature-256': 'sha1=0123456789abcdef0123456789abcdef01234567' }, body: d.body };
    }],
    ['empty body', 400, 'empty_body', async () => {
      const d = await signedDelivery(SECRET, 'pull_request', payload);
      return { headers: { ...d.headers, 'x-hub-signature-256': hmac(Buffer.alloc(0)) }, body: Buffer.alloc(0) };
    }],
    ['truncated JSON (signed as sent)', 400, 'invalid_json', async () => {
      const truncated = body.slice(0, body.length / 2);
      return signedDelivery(SECRET, 'pull_request', payload, { body: truncated });
    }],
    ['JSON that is not an object', 400, 'invalid_json', async () => signedDelivery(SECRET, 'pull_request', null, { body: '[1,2,3]' })],
    ['a handled event missing what the worker needs', 400, 'invalid_payload', async () =>
      signedDelivery(SECRET, 'pull_request', { action: 'opened', repository: { full_name: 'a/b' } })],
    ['wrong content type', 415, 'unsupported_content_type', async () => {
      const d = await signedDelivery(SECRET, 'pull_request', payload);
      return { headers: { ...d.headers, 'content-type': 'text/plain' }, body: d.body };
    }],
    ['form-encoded delivery from a misconfigured hook', 415, 'unsupported_content_type', async () => {
      const form = `payload=${encodeURIComponent(body)}`;
      const d = await signedDelivery(SECRET, 'pull_request', payload, { body: form });
      return { headers: { ...d.headers, 'content-type': 'application/x-www-form-urlencoded' }, body: form };
    }],
    ['gzip-compressed body (signed over the bytes sent)', 415, 'unsupported_content_encoding', async () => {
      const bytes = gzipSync(body);
      const d = await signedDelivery(SECRET, 'pull_request', payload);
      return { headers: { ...d.headers, 'content-encoding': 'gzip', 'x-hub-signature-256': hmac(bytes) }, body: bytes };
    }],
    ['invalid UTF-8 (signed over the raw bytes)', 400, 'invalid_encoding', async () => {
      const d = await signedDelivery(SECRET, 'pull_request', payload);
      const bytes = Buffer.concat([Buffer.from('{"action":"opened","x":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]);
      return { headers: { ...d.headers, 'x-hub-signature-256': hmac(bytes) }, body: bytes };
    }],
    ['missing X-GitHub-Event', 400, 'invalid_event_header', async () => {
      const d = await signedDelivery(SECRET, 'pull_request', payload);
      const { ['x-github-event']: _, ...headers } = d.headers;
      return { headers, body: d.body };
    }],
    ['missing X-GitHub-Delivery', 400, 'invalid_delivery_header', async () => {
      const d = await signedDelivery(SECRET, 'pull_request', payload);
      const { ['x-github-delivery']: _, ...headers } = d.headers;
      return { headers, body: d.body };
    }],
    ['delivery id that is not a GUID', 400, 'invalid_delivery_header', async () => {
      const d = await signedDelivery(SECRET, 'pull_request', payload);
      return { headers: { ...d.headers, 'x-github-delivery': '../../etc/passwd' }, body: d.body };
    }],
    ['event name with injected text', 400, 'invalid_event_header', async () => {
      const d = await signedDelivery(SECRET, 'pull_request', payload);
      return { headers: { ...d.headers, 'x-github-event': 'pull_request; DROP TABLE users' }, body: d.body };
    }],
    ['event name of 200 characters', 400, 'invalid_event_header', async () => {
      const d = await signedDelivery(SECRET, 'pull_request', payload);
      return { headers: { ...d.headers, 'x-github-event': 'a'.repeat(200) }, body: d.body };
    }],
  ];

  it.each(cases)('%s → %i', async (_name, status, error, build) => {
    const before = await sut.jobCount();
    const { headers, body: sent } = await build();
    const res = await postRaw(headers, Buffer.from(sent));
    expect(res.status).toBe(status);
    expect(res.type).toBe('application/json');
    expect(res.body.error).toBe(error);
    expect(typeof res.body.message).toBe('string');
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.(ts|js):\d+/);
    expect(await sut.jobCount()).toBe(before);
  });

  it('refuses a 26 MB body with 413 and queues nothing', async () => {
    const before = await sut.jobCount();
    const big = JSON.stringify({ ...payload, padding: 'x'.repeat(26 * 1024 * 1024) });
    const d = await signedDelivery(SECRET, 'pull_request', null, { body: big });
    const res = await request(sut.app).post(WEBHOOK_PATH).set(d.headers).send(big);
    expect(res.status).toBe(413);
    expect(res.body.error).toBe('payload_too_large');
    expect(await sut.jobCount()).toBe(before);
  });

  it('answers header injection that Node cannot parse with JSON 400', async () => {
    const { port } = server.address() as net.AddressInfo;
    const before = await sut.jobCount();
    const response = await new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write(
          `POST ${WEBHOOK_PATH} HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: pull_request\rX-Injected: 1\r\nContent-Length: 2\r\n\r\n{}`,
        );
      });
      let data = '';
      socket.on('data', (c) => (data += c.toString()));
      socket.on('close', () => resolve(data));
    });
    expect(response).toMatch(/^HTTP\/1\.1 400/);
    expect(response).toMatch(/Content-Type: application\/json/);
    expect(response).toMatch(/"error":"bad_request"/);
    expect(await sut.jobCount()).toBe(before);
  });

  it('counts signature failures in /metrics', async () => {
    const res = await request(sut.app).get('/metrics');
    const failures = /ingest_webhook_signature_failures_total (\d+)/.exec(res.text);
    expect(Number(failures?.[1])).toBeGreaterThanOrEqual(5);
  });
});

describe('duplicates', () => {
  it('answers a redelivery of the same id with duplicate and adds no job', async () => {
    const payload = webhookExample('pull_request', 'synchronize', { withInstallation: true });
    const first = await deliver('pull_request', payload);
    expect(first.res.body.status).toBe('queued');
    const before = await sut.jobCount();
    const again = await deliver('pull_request', payload, { deliveryId: first.delivery.deliveryId });
    expect(again.res.status).toBe(202);
    expect(again.res.body).toEqual({ delivery_id: first.delivery.deliveryId, status: 'duplicate' });
    expect(await sut.jobCount()).toBe(before);
  });

  it('still answers duplicate, and adds no job, once retention has trimmed the finished job', async () => {
    const own = buildIngest();
    const connection = createRedis(redisUrl(), 'worker');
    // Completed by a worker, as the worker service does; its own options are not consulted, since a job's
    // removeOnComplete (set by ingest) takes precedence over the worker's.
    const worker = new Worker(QUEUES.webhooks, async () => undefined, { connection, prefix: own.prefix });
    worker.on('error', () => undefined);
    const completed = (id: string) => new Promise<void>((resolve) => worker.on('completed', (job) => job.id === id && resolve()));
    const deliverAndComplete = async (d: SignedDelivery) => {
      const done = completed(d.deliveryId);
      const res = await request(own.app).post(WEBHOOK_PATH).set(d.headers).send(d.body);
      expect(res.body.status).toBe('queued');
      await done;
    };
    const closed = () => signedDelivery(SECRET, 'pull_request', webhookExample('pull_request', 'closed', { withInstallation: true }));
    // BullMQ trims finished jobs when a later job finishes, by the finish times the worker stamps from Date.now():
    // moving that clock is how a test lets a day pass.
    const realNow = Date.now.bind(Date);
    const clock = jest.spyOn(Date, 'now');
    try {
      const d = await closed();
      const id = d.deliveryId;
      await deliverAndComplete(d);

      // Another job finishing within the retention age leaves the first one stored.
      const soon = await closed();
      await deliverAndComplete(soon);
      expect(await (await own.queue.queue.getJob(id))?.getState()).toBe('completed');

      const elapsedMs = (WEBHOOK_JOB_OPTIONS.removeOnComplete.age + 1) * 1000;
      clock.mockImplementation(() => realNow() + elapsedMs);
      const later = await closed();
      await deliverAndComplete(later);
      expect(await own.queue.queue.getJob(id)).toBeUndefined();
      expect(await own.queue.queue.getJob(soon.deliveryId)).toBeUndefined();
      expect(await own.queue.queue.getJobCounts('completed')).toEqual({ completed: 1 });

      // The deduplication key outlives the trimmed job, on Redis' own clock, by more than the time let pass.
      expect(await own.redis.pttl(`${own.queue.queue.toKey('de')}:${id}`)).toBeGreaterThan(elapsedMs);
      const again = await request(own.app).post(WEBHOOK_PATH).set(d.headers).send(d.body);
      expect(again.status).toBe(202);
      expect(again.body).toEqual({ delivery_id: id, status: 'duplicate' });
      expect(await own.jobCount()).toBe(1);
    } finally {
      clock.mockRestore();
      await worker.close();
      await connection.quit();
      await own.close();
    }
  });

  it('stores exactly one job for 50 concurrent deliveries of one id', async () => {
    const payload = webhookExample('pull_request', 'opened', { withInstallation: true });
    const d = await signedDelivery(SECRET, 'pull_request', payload);
    const before = await sut.jobCount();
    const results = await Promise.all(
      Array.from({ length: 50 }, () => request(sut.app).post(WEBHOOK_PATH).set(d.headers).send(d.body)),
    );
    expect(results.every((r) => r.status === 202)).toBe(true);
    expect(results.filter((r) => r.body.status === 'queued')).toHaveLength(1);
    expect(results.filter((r) => r.body.status === 'duplicate')).toHaveLength(49);
    expect(await sut.jobCount()).toBe(before + 1);
  });
});

describe('secret rotation', () => {
  const rotating = buildIngest({ secrets: ['old-secret', 'new-secret'] });
  afterAll(() => rotating.close());

  it.each([['old-secret'], ['new-secret']])('accepts a delivery signed with %s', async (secret) => {
    const d = await signedDelivery(secret, 'pull_request', webhookExample('pull_request', 'opened', { withInstallation: true }));
    const res = await request(rotating.app).post(WEBHOOK_PATH).set(d.headers).send(d.body);
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('queued');
  });

  it('refuses a secret that is in neither', async () => {
    const d = await signedDelivery('retired-secret', 'pull_request', webhookExample('pull_request', 'opened'));
    const res = await request(rotating.app).post(WEBHOOK_PATH).set(d.headers).send(d.body);
    expect(res.status).toBe(401);
  });
});

describe('operations', () => {
  beforeAll(async () => {
    await deliver('pull_request', webhookExample('pull_request', 'closed', { withInstallation: true }));
  });

  it('answers /healthz and /readyz', async () => {
    expect((await request(sut.app).get('/healthz')).body).toEqual({ status: 'ok' });
    const ready = await request(sut.app).get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.redis).toBe('ok');
  });

  it('exposes requests by status and the enqueue latency histogram', async () => {
    // A histogram without labels is listed, with zero counts, before anything is observed: what counts is that
    // storing a delivery adds to it.
    const metric = async (pattern: RegExp) => Number(pattern.exec((await request(sut.app).get('/metrics')).text)?.[1]);
    const enqueued = () => metric(/^ingest_enqueue_duration_seconds_count (\d+)$/m);
    const accepted = () => metric(/^ingest_http_requests_total\{route="webhook",status="202"\} (\d+)$/m);
    const queued = () => metric(/^ingest_webhook_deliveries_total\{event="pull_request",outcome="queued"\} (\d+)$/m);
    const before = [await enqueued(), await accepted(), await queued()];
    await deliver('pull_request', webhookExample('pull_request', 'opened', { withInstallation: true }));
    expect([await enqueued(), await accepted(), await queued()]).toEqual(before.map((n) => n + 1));
  });

  it('logs one line per delivery with its id, event, action, repository, outcome and latency, and no secrets', async () => {
    const { delivery } = await deliver('pull_request', webhookExample('pull_request', 'reopened', { withInstallation: true }));
    const lines = sut.logLines.filter((l) => l.delivery_id === delivery.deliveryId);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      msg: 'delivery',
      event: 'pull_request',
      action: 'reopened',
      repository: 'Codertocat/Hello-World',
      outcome: 'queued',
      status: 202,
    });
    expect(typeof lines[0]!.latency_ms).toBe('number');
    const everything = sut.rawLog.join('\n');
    expect(everything).not.toContain(SECRET);
    expect(everything).not.toContain(delivery.headers['x-hub-signature-256']);
  });

  it('answers unknown routes with JSON 404', async () => {
    const res = await request(sut.app).get('/nope');
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('not_found');
  });
});
