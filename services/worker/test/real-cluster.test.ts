import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pullRequestPayload, type FakeGithub } from '@ephemera/testkit';
import { InstallationClients } from '../src/github/installation-clients.js';
import { KubeApi } from '../src/provisioners/kubernetes/kube-api.js';
import { KubernetesProvisioner } from '../src/provisioners/kubernetes/kubernetes-provisioner.js';
import { GithubConfigSource } from '../src/provisioners/preview-config-source.js';
import { at, sha, startHarness, type Harness } from './harness.js';

// The lifecycle of kubernetes.test.ts on a real cluster (kind, k3d, …): EPHEMERA_TEST_KUBECONFIG names its
// kubeconfig (EPHEMERA_TEST_KUBE_CONTEXT a context of it). GitHub stays the local fake, serving .ephemera.yml.
const kubeconfig = process.env.EPHEMERA_TEST_KUBECONFIG;
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
    api = new KubeApi({ kubeconfigPath: kubeconfig, context: process.env.EPHEMERA_TEST_KUBE_CONTEXT, requestTimeoutMs: 30_000 });
    h = await startHarness({
      provisionerFor: ({ fakeGithub, pem }: { fakeGithub: FakeGithub; pem: string }) =>
        new KubernetesProvisioner({
          api,
          configs: new GithubConfigSource(new InstallationClients({ appId: 42, privateKey: pem }, fakeGithub.url, 10_000), { maxReplicas: 3 }),
          instance: `test-${process.pid}`,
          baseDomain: '127.0.0.1.nip.io',
          urlScheme: 'http',
          quota: { cpu: '2', memory: '2Gi', pods: 10 },
          defaults: { cpu: '100m', memory: '64Mi' },
          ingressNamespace: 'ingress-nginx',
          ingressClass: undefined,
          tlsSecret: undefined,
          imagePullSecret: undefined,
          secretsNamespace: undefined,
          secretsAllowed: [],
          destroyTimeoutSeconds: 300,
          githubWebUrl: 'https://github.com',
        }),
    });
    for (const n of [1, 2]) h.fakeGithub!.setFile(REPO, sha(n), '.ephemera.yml', CONFIG);
    await (h.provisioner as KubernetesProvisioner).checkAccess();
  }, 60_000);
  afterAll(async () => {
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
    await h.drain(400_000);
    const env = await h.db.environment.findFirstOrThrow({ where: { repositoryFullName: REPO, prNumber: 1 } });
    expect(env.status).toBe('DESTROYED');
    await expect(api.core.readNamespace({ name: env.namespace })).rejects.toMatchObject({ code: 404 });
  }, 420_000);
});
