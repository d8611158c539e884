import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FakeGithub, FakeKubernetes } from '@ephemera/testkit';
import { InstallationClients } from '../src/github/installation-clients.js';
import { KubeApi } from '../src/provisioners/kubernetes/kube-api.js';
import { KubernetesProvisioner, type KubernetesProvisionerOptions } from '../src/provisioners/kubernetes/kubernetes-provisioner.js';
import { GithubConfigSource } from '../src/provisioners/preview-config-source.js';
import type { ProvisionTarget } from '../src/provisioners/provisioner.js';

/**
 * How long a (Kubernetes) second lasts in these tests, for the worker's timers and the fake API server's controllers
 * alike: one clock, so a progress deadline, a back-off or a rollout timeout happens in the same order as on a cluster.
 */
export const KUBE_SECOND_MS = 10;

/**
 * The real Kubernetes provisioner, through @kubernetes/client-node, against the fake API server, reading
 * `.ephemera.yml` through the fake GitHub's contents API with the App's installation token. The kubeconfig is
 * written to a folder added to `dirs`, for the test to remove.
 */
export function kubeProvisionerFor(fake: FakeKubernetes, overrides: Partial<KubernetesProvisionerOptions>, dirs: string[]) {
  const dir = mkdtempSync(path.join(tmpdir(), 'ephemera-kube-'));
  dirs.push(dir);
  const kubeconfigPath = fake.writeKubeconfig(dir);
  return ({ fakeGithub, pem }: { fakeGithub: FakeGithub; pem: string }) =>
    directProvisioner(new KubeApi({ kubeconfigPath, requestTimeoutMs: 5_000 }), 'test', {
      configs: new GithubConfigSource(new InstallationClients({ appId: 42, privateKey: pem }, fakeGithub.url, 5_000), { maxReplicas: 3 }),
      secretsNamespace: 'preview-secrets',
      secretsAllowed: ['preview-db'],
      pollIntervalMs: 20,
      ...overrides,
    });
}

/**
 * The provisioner on an API of the test's own, for tests that hand it targets directly: each target carries its
 * configuration, so none is read from GitHub.
 */
export function directProvisioner(api: KubeApi, instance: string, overrides: Partial<KubernetesProvisionerOptions> = {}): KubernetesProvisioner {
  return new KubernetesProvisioner({
    api,
    configs: { load: () => Promise.reject(new Error('the target carries its configuration')) },
    instance,
    baseDomain: 'preview.test',
    urlScheme: 'https',
    quota: { cpu: '2', memory: '4Gi', pods: 20 },
    defaults: { cpu: '250m', memory: '256Mi' },
    ingressNamespace: 'ingress-nginx',
    ingressClass: 'nginx',
    tlsSecret: undefined,
    imagePullSecret: undefined,
    secretsNamespace: undefined,
    secretsAllowed: [],
    destroyTimeoutSeconds: 60,
    githubWebUrl: 'https://github.com',
    pollIntervalMs: 10,
    secondMs: KUBE_SECOND_MS,
    ...overrides,
  });
}

/** A pull request's target in namespace `pr-<pr>-web-<instance>` at commit `sha`, carrying its configuration. */
export function directTarget(pr: number, instance: string, sha: string, config: ProvisionTarget['config']): ProvisionTarget {
  return {
    environmentId: pr,
    namespace: `pr-${pr}-web-${instance}`,
    repositoryFullName: 'acme/web',
    prNumber: pr,
    branchName: 'feature',
    commitSha: sha,
    environmentUrl: null,
    installationId: 1,
    fromFork: false,
    configSha: sha,
    config,
  };
}
