import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pullRequestPayload } from '@ephemera/testkit';
import type { KubeApi } from '../src/provisioners/kubernetes/kube-api.js';
import type { KubernetesProvisioner } from '../src/provisioners/kubernetes/kubernetes-provisioner.js';
import { at, sha, startHarness, type Harness } from './harness.js';
import { clusterApi, clusterProvisionerFor, deleteLeftNamespaces, kubeconfig, outcome, settle, waitForTeardown } from './real-cluster/cluster.js';

// The lifecycle of kubernetes.test.ts on a real cluster (kind, k3d, …): EPHEMERA_TEST_KUBECONFIG names its
// kubeconfig (EPHEMERA_TEST_KUBE_CONTEXT a context of it). GitHub stays the local fake, serving .ephemera.yml.
// .github/workflows/kind.yml runs it on a kind cluster with ingress-nginx.
if (!kubeconfig) process.stdout.write('real-cluster suite skipped: set EPHEMERA_TEST_KUBECONFIG to run it against a cluster\n');
const suite = kubeconfig ? describe : describe.skip;

const REPO = 'ephemera-test/real-cluster';
// A small public image that serves HTTP on the given port (Kubernetes' own end-to-end test image).
const CONFIG = `version: 1
services:
  web:
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: ["netexec", "--http-port=8080"]
    port: 8080
    env: { PREVIEW_COMMIT: "{{short_sha}}" }
    health: { path: / }
    resources: { cpu: 100m, memory: 64Mi }
timeout_seconds: 300
`;

suite('a preview on a real cluster', () => {
  let h: Harness;
  let api: KubeApi;
  beforeAll(async () => {
    api = clusterApi();
    h = await startHarness({ provisionerFor: clusterProvisionerFor(api, `test-${process.pid}`) });
    for (const n of [1, 2]) h.fakeGithub!.setFile(REPO, sha(n), '.ephemera.yml', CONFIG);
    await (h.provisioner as KubernetesProvisioner).checkAccess();
  }, 60_000);
  afterAll(async () => {
    await deleteLeftNamespaces(h).catch(() => undefined);
    await h?.close();
  });

  it('opened: READY with its Deployment rolled out', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 1, repository: REPO, headSha: sha(1), updatedAt: at(1) }));
    await h.drain(400_000);
    const env = await h.db.environment.findFirstOrThrow({ where: { repositoryFullName: REPO, prNumber: 1 } });
    expect(env.errorMessage).toBeNull();
    expect(env.status).toBe('READY');
    const d = await api.apps.readNamespacedDeployment({ name: 'web', namespace: env.namespace });
    expect(d.status?.availableReplicas).toBe(1);
  }, 420_000);

  it('a push rolls the pods to the new commit', async () => {
    await h.deliver(pullRequestPayload({ action: 'synchronize', number: 1, repository: REPO, headSha: sha(2), updatedAt: at(2) }));
    await h.drain(400_000);
    const env = await h.db.environment.findFirstOrThrow({ where: { repositoryFullName: REPO, prNumber: 1 } });
    expect(env.status).toBe('READY');
    const d = await api.apps.readNamespacedDeployment({ name: 'web', namespace: env.namespace });
    expect(d.spec?.template.metadata?.annotations?.['ephemera.dev/commit']).toBe(sha(2));
    expect(d.spec?.template.spec?.containers[0]?.env).toEqual([{ name: 'PREVIEW_COMMIT', value: sha(2).slice(0, 7) }]);
  }, 420_000);

  it('closed: the namespace is gone and the environment DESTROYED', async () => {
    await h.deliver(pullRequestPayload({ action: 'closed', number: 1, repository: REPO, headSha: sha(2), updatedAt: at(3) }));
    const env = await h.db.environment.findFirstOrThrow({ where: { repositoryFullName: REPO, prNumber: 1 } });
    const gone = await waitForTeardown(h, env.id, 400_000);
    expect(outcome(gone, await h.db.deployment.findFirst({ where: { environmentId: env.id }, orderBy: { id: 'desc' } }))).toMatchObject({ status: 'DESTROYED' });
    await expect(api.core.readNamespace({ name: env.namespace })).rejects.toMatchObject({ code: 404 });
  }, 720_000);
});

// What a real cluster does deterministically when a preview cannot roll out: the reason is one line per service, the
// most specific cause, and never the container's log (that goes to the deployment's logs).
const RUN = randomBytes(3).toString('hex');
/** An HTTP server on 8080 from busybox, serving `ok` at / and 404 elsewhere. */
const HTTPD = '["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"]';
const service = (lines: string, timeoutSeconds: number) =>
  `version: 1\nservices:\n  web:\n${lines
    .trim()
    .split('\n')
    .map((l) => `    ${l.trim()}`)
    .join('\n')}\n    resources: { cpu: 100m, memory: 64Mi }\ntimeout_seconds: ${timeoutSeconds}\n`;

/** A reason as the pull request shows it: a single line. */
function expectOneLine(errorMessage: string | null): void {
  expect(errorMessage).toEqual(expect.any(String));
  expect(errorMessage).not.toContain('\n');
}

suite('failures on a real cluster', () => {
  const FAILING = `ephemera-test/failing-${RUN}`;
  let h: Harness;
  let api: KubeApi;
  beforeAll(async () => {
    api = clusterApi();
    h = await startHarness({ provisionerFor: clusterProvisionerFor(api, `test-${process.pid}-failing`) });
  }, 60_000);
  afterAll(async () => {
    await deleteLeftNamespaces(h).catch(() => undefined);
    await h?.close();
  });

  it('an image that does not exist: FAILED naming the image within the timeout and its grace', async () => {
    h.fakeGithub!.setFile(FAILING, sha(10), '.ephemera.yml', service('image: ghcr.io/ephemera-dev/does-not-exist:{{sha}}\nport: 8080', 60));
    await h.deliver(pullRequestPayload({ action: 'opened', number: 11, repository: FAILING, headSha: sha(10), updatedAt: at(1) }));
    const { env, dep } = await settle(h, FAILING, 11, sha(10), 150_000);
    expect(outcome(env, dep)).toMatchObject({ status: 'FAILED', deployment: { status: 'FAILED' } });
    expect(env.errorMessage).toMatch(/^web: (ImagePullBackOff|ErrImagePull)/);
    expect(env.errorMessage).toContain(`ghcr.io/ephemera-dev/does-not-exist:${sha(10)}`);
    expectOneLine(env.errorMessage);
    expect(dep.errorMessage).toBe(env.errorMessage);
    // timeout_seconds (60) and the worker's 30 s of grace, plus the few seconds of reading the file and applying.
    expect(dep.completedAt!.getTime() - dep.startedAt!.getTime()).toBeLessThan((60 + 30 + 5) * 1000);
  }, 180_000);

  it('a crash loop: FAILED after its restarts with the exit code, its log kept apart; a push that fixes it is READY', async () => {
    // With a readiness probe, as a real service has: without one, a container is ready the moment it runs, and a
    // rollout may count the instant before it exits as available.
    h.fakeGithub!.setFile(FAILING, sha(20), '.ephemera.yml', service('image: busybox:1.36\ncommand: ["sh", "-c", "echo boom; exit 3"]\nport: 8080\nhealth: { path: / }', 150));
    await h.deliver(pullRequestPayload({ action: 'opened', number: 12, repository: FAILING, headSha: sha(20), updatedAt: at(1) }));
    const { env, dep } = await settle(h, FAILING, 12, sha(20), 210_000);
    expect(outcome(env, dep)).toMatchObject({ status: 'FAILED', deployment: { status: 'FAILED' } });
    expect(env.errorMessage).toMatch(/^web: CrashLoopBackOff/);
    expect(env.errorMessage).toMatch(/exit code 3\b/);
    expectOneLine(env.errorMessage);
    expect(env.errorMessage).not.toContain('boom');
    expect(dep.errorMessage).toBe(env.errorMessage);
    expect(dep.logs).toContain('boom');
    // Decided by the restarts (PREVIEW_CRASH_RESTARTS, 3 by default), not by the timeout.
    expect(dep.completedAt!.getTime() - dep.startedAt!.getTime()).toBeLessThan(150_000);
    const pods = await api.core.listNamespacedPod({ namespace: env.namespace, labelSelector: 'ephemera.dev/service=web' });
    const restarts = Math.max(0, ...pods.items.flatMap((p) => (p.status?.containerStatuses ?? []).map((c) => c.restartCount ?? 0)));
    expect(restarts).toBeGreaterThanOrEqual(3);

    // The fix: the crash-looping pod of the old ReplicaSet stays until the new one is ready, and must not fail it.
    h.fakeGithub!.setFile(FAILING, sha(21), '.ephemera.yml', service(`image: busybox:1.36\ncommand: ${HTTPD}\nport: 8080\nreplicas: 1\nhealth: { path: / }`, 120));
    await h.deliver(pullRequestPayload({ action: 'synchronize', number: 12, repository: FAILING, headSha: sha(21), updatedAt: at(2) }));
    const fixed = await settle(h, FAILING, 12, sha(21), 180_000);
    expect(outcome(fixed.env, fixed.dep)).toMatchObject({ status: 'READY', errorMessage: null, deployment: { status: 'SUCCESS', errorMessage: null } });
    const d = await api.apps.readNamespacedDeployment({ name: 'web', namespace: env.namespace });
    expect(d.spec?.template.metadata?.annotations?.['ephemera.dev/commit']).toBe(sha(21));
    expect(d.status?.availableReplicas).toBe(1);
  }, 420_000);

  it('a readiness probe that never passes: FAILED naming the probe', async () => {
    h.fakeGithub!.setFile(FAILING, sha(30), '.ephemera.yml', service(`image: busybox:1.36\ncommand: ${HTTPD}\nport: 8080\nhealth: { path: /never }`, 60));
    await h.deliver(pullRequestPayload({ action: 'opened', number: 13, repository: FAILING, headSha: sha(30), updatedAt: at(1) }));
    const { env, dep } = await settle(h, FAILING, 13, sha(30), 150_000);
    expect(outcome(env, dep)).toMatchObject({ status: 'FAILED', deployment: { status: 'FAILED' } });
    expect(env.errorMessage).toMatch(/^web: readiness probe/i);
    expect(env.errorMessage).toMatch(/404/);
    expectOneLine(env.errorMessage);
    expect(dep.completedAt!.getTime() - dep.startedAt!.getTime()).toBeLessThan((60 + 30 + 5) * 1000);
  }, 180_000);

  it('closed: the deletion is asked for, and the teardown sweep marks the environment DESTROYED once the namespace is gone', async () => {
    const OK = service('image: registry.k8s.io/e2e-test-images/agnhost:2.53\nargs: ["netexec", "--http-port=8080"]\nport: 8080\nhealth: { path: / }', 120);
    h.fakeGithub!.setFile(FAILING, sha(40), '.ephemera.yml', OK);
    await h.deliver(pullRequestPayload({ action: 'opened', number: 14, repository: FAILING, headSha: sha(40), updatedAt: at(1) }));
    const { env, dep } = await settle(h, FAILING, 14, sha(40), 150_000);
    expect(outcome(env, dep)).toMatchObject({ status: 'READY' });
    await expect(api.core.readNamespace({ name: env.namespace })).resolves.toMatchObject({ metadata: { name: env.namespace } });

    await h.deliver(pullRequestPayload({ action: 'closed', number: 14, repository: FAILING, headSha: sha(40), updatedAt: at(2) }));
    const gone = await waitForTeardown(h, env.id, 180_000);
    expect({ status: gone.status, errorMessage: gone.errorMessage }).toEqual({ status: 'DESTROYED', errorMessage: null });
    await expect(api.core.readNamespace({ name: env.namespace })).rejects.toMatchObject({ code: 404 });
    const latest = await h.db.deployment.findFirstOrThrow({ where: { environmentId: env.id }, orderBy: { id: 'desc' } });
    expect(latest.logs).toMatch(/namespace \S+ deletion requested[\s\S]*namespace \S+ deleted/);
  }, 360_000);
});

suite('the quota on a real cluster', () => {
  const LIMITED = `ephemera-test/quota-${RUN}`;
  let h: Harness;
  let api: KubeApi;
  beforeAll(async () => {
    api = clusterApi();
    h = await startHarness({ provisionerFor: clusterProvisionerFor(api, `test-${process.pid}-quota`, { PREVIEW_QUOTA_CPU: '1', PREVIEW_QUOTA_MEMORY: '1Gi', PREVIEW_QUOTA_PODS: '5' }) });
  }, 60_000);
  afterAll(async () => {
    await deleteLeftNamespaces(h).catch(() => undefined);
    await h?.close();
  });

  it('a service asking for more CPU than the quota allows: FAILED naming the quota', async () => {
    const config = service('image: registry.k8s.io/e2e-test-images/agnhost:2.53\nargs: ["netexec", "--http-port=8080"]\nport: 8080', 60).replace(
      'resources: { cpu: 100m, memory: 64Mi }',
      'resources: { cpu: "4", memory: 64Mi }',
    );
    h.fakeGithub!.setFile(LIMITED, sha(50), '.ephemera.yml', config);
    await h.deliver(pullRequestPayload({ action: 'opened', number: 21, repository: LIMITED, headSha: sha(50), updatedAt: at(1) }));
    const { env, dep } = await settle(h, LIMITED, 21, sha(50), 150_000);
    expect(outcome(env, dep)).toMatchObject({ status: 'FAILED', deployment: { status: 'FAILED' } });
    expect(env.errorMessage).toMatch(/^web: .*exceeded quota/);
    expectOneLine(env.errorMessage);
    // The operator's quota, as the namespace got it.
    const quotas = await api.core.listNamespacedResourceQuota({ namespace: env.namespace });
    expect(quotas.items[0]?.spec?.hard).toMatchObject({ 'limits.cpu': '1', pods: '5' });
  }, 180_000);
});
