import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { startClient, type KubeTestClient } from './kube-test-client.js';

// A watch as the API server serves it: from a list's resourceVersion it gets every change made since (the watch
// cache replays them); from a resourceVersion the server no longer keeps, an ERROR event with a 410 Expired Status.

let c: KubeTestClient;
beforeAll(async () => {
  c = await startClient({ secondMs: 10, rollout: () => 'success' });
});
afterAll(async () => {
  await c.fake.close();
});

function watchFrom(resourceVersion: string): Promise<Array<{ type: string; object: { metadata?: { name?: string }; code?: number; reason?: string } }>> {
  const kc = new KubeConfig();
  kc.loadFromString(c.fake.kubeconfig);
  const seen: Array<{ type: string; object: { metadata?: { name?: string }; code?: number; reason?: string } }> = [];
  return new Promise((resolve, reject) => {
    void new Watch(kc)
      .watch('/api/v1/namespaces', { resourceVersion, timeoutSeconds: 1 }, (type: string, object: (typeof seen)[number]['object']) => void seen.push({ type, object }), (err: unknown) => (err && (err as Error).name !== 'AbortError' ? reject(err) : resolve(seen)))
      .then((ctl) => setTimeout(() => ctl.abort(), 300));
  });
}

describe('the fake API server\'s watches', () => {
  it('replay every change made after the resourceVersion they start from', async () => {
    const list = await c.core.listNamespace();
    await c.core.createNamespace({ body: { metadata: { name: 'made-after-the-list' } } });
    const events = await watchFrom(list.metadata!.resourceVersion!);
    expect(events.map((e) => `${e.type} ${e.object.metadata?.name}`)).toContain('ADDED made-after-the-list');
    expect(events.some((e) => e.object.metadata?.name === 'default')).toBe(false);
  });

  it('answer 410 Expired for a resourceVersion older than what they keep', async () => {
    const list = await c.core.listNamespace();
    c.fake.expireWatches();
    const events = await watchFrom(list.metadata!.resourceVersion!);
    expect(events).toEqual([{ type: 'ERROR', object: expect.objectContaining({ kind: 'Status', code: 410, reason: 'Expired' }) }]);
  });
});
