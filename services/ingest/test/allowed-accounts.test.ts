import { afterAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { pullRequestPayload, signedDelivery, webhookExample } from '@ephemera/testkit';
import { WEBHOOK_PATH } from '../src/app.js';
import { SECRET, buildIngest } from './support.js';

// ALLOWED_ACCOUNTS: verified deliveries from other accounts are answered `ignored` and store nothing; the
// account is the repository's owner for pull requests, the installation's account for installation events.

const sut = buildIngest({ allowedAccounts: ['CODERTOCAT', 'octo-org'] });
afterAll(() => sut.close());

async function deliver(event: string, payload: unknown) {
  const d = await signedDelivery(SECRET, event, payload);
  const res = await request(sut.app).post(WEBHOOK_PATH).set(d.headers).send(d.body);
  return { res, deliveryId: d.deliveryId };
}

/** GitHub's example installation payload for `action`, with the installation's account renamed. */
function installationFrom(event: 'installation' | 'installation_repositories', action: string, login: string) {
  const p = webhookExample(event, action) as { installation: { account: { login: string } } };
  return { ...p, installation: { ...p.installation, account: { ...p.installation.account, login } } };
}

describe('ALLOWED_ACCOUNTS', () => {
  it.each([
    ['pull_request from an allowed owner (in another case)', 'pull_request', () => pullRequestPayload({ action: 'opened', repository: 'Codertocat/Hello-World' })],
    ['pull_request from the second allowed owner', 'pull_request', () => pullRequestPayload({ action: 'synchronize', repository: 'Octo-Org/service' })],
    ['installation of an allowed account', 'installation', () => installationFrom('installation', 'deleted', 'octo-org')],
    ['installation_repositories of an allowed account', 'installation_repositories', () => installationFrom('installation_repositories', 'removed', 'Codertocat')],
  ] as const)('queues %s', async (_name, event, payload) => {
    const before = await sut.jobCount();
    const { res, deliveryId } = await deliver(event, payload());
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ delivery_id: deliveryId, status: 'queued' });
    expect(await sut.jobCount()).toBe(before + 1);
  });

  it.each([
    ['pull_request from another owner', 'pull_request', 'someone-else', () => pullRequestPayload({ action: 'opened', repository: 'someone-else/app' })],
    ['installation of another account', 'installation', 'octocat', () => installationFrom('installation', 'deleted', 'octocat')],
    ['installation_repositories of another account', 'installation_repositories', 'mallory', () => installationFrom('installation_repositories', 'removed', 'mallory')],
    // A login that merely contains an allowed one is another account.
    ['pull_request from a look-alike owner', 'pull_request', 'codertocat-evil', () => pullRequestPayload({ action: 'opened', repository: 'codertocat-evil/app' })],
  ] as const)('answers %s with 202 ignored, stores nothing and logs the account', async (_name, event, account, payload) => {
    const before = await sut.jobCount();
    const { res, deliveryId } = await deliver(event, payload());
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ delivery_id: deliveryId, status: 'ignored' });
    expect(await sut.jobCount()).toBe(before);
    expect(await sut.queue.queue.getJob(deliveryId)).toBeUndefined();

    const lines = sut.logLines.filter((l) => l.delivery_id === deliveryId);
    expect(lines).toEqual([
      expect.objectContaining({ level: 'info', account, event, msg: expect.stringMatching(/ALLOWED_ACCOUNTS/) }),
      expect.objectContaining({ msg: 'delivery', outcome: 'ignored', status: 202 }),
    ]);
  });

  it('counts refused accounts among the ignored deliveries', async () => {
    // Deltas over this test's own deliveries, so the counts do not depend on which tests ran before.
    const counts = async () => {
      const text = (await request(sut.app).get('/metrics')).text;
      const count = (event: string, outcome: string) =>
        Number(new RegExp(`^ingest_webhook_deliveries_total\\{event="${event}",outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
      return ['pull_request', 'installation', 'installation_repositories'].map((e) => [count(e, 'ignored'), count(e, 'queued')]);
    };
    const before = await counts();
    await deliver('pull_request', pullRequestPayload({ action: 'opened', repository: 'someone-else/app' }));
    await deliver('pull_request', pullRequestPayload({ action: 'closed', repository: 'another/app' }));
    await deliver('installation', installationFrom('installation', 'deleted', 'octocat'));
    await deliver('installation_repositories', installationFrom('installation_repositories', 'removed', 'mallory'));
    const after = await counts();
    expect(after.map(([ignored, queued], i) => [ignored! - before[i]![0]!, queued! - before[i]![1]!])).toEqual([
      [2, 0],
      [1, 0],
      [1, 0],
    ]);
  });

  it('still checks the signature first: an unsigned delivery from another account is 401', async () => {
    const d = await signedDelivery('not-the-secret', 'pull_request', pullRequestPayload({ action: 'opened', repository: 'someone-else/app' }));
    const res = await request(sut.app).post(WEBHOOK_PATH).set(d.headers).send(d.body);
    expect(res.status).toBe(401);
  });

  it('accepts every account when unset', async () => {
    const open = buildIngest();
    try {
      const d = await signedDelivery(SECRET, 'pull_request', pullRequestPayload({ action: 'opened', repository: 'someone-else/app' }));
      const res = await request(open.app).post(WEBHOOK_PATH).set(d.headers).send(d.body);
      expect(res.body.status).toBe('queued');
    } finally {
      await open.close();
    }
  });
});
