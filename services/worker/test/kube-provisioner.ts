import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FakeGithub, FakeKubernetes } from '@ephemera/testkit';
import type { WorkerConfig } from '../src/config.js';
import { InstallationClients } from '../src/github/installation-clients.js';
import { KubeApi } from '../src/provisioners/kubernetes/kube-api.js';
import { KubernetesProvisioner } from '../src/provisioners/kubernetes/kubernetes-provisioner.js';
import type { ProvisionerClock } from '../src/provisioners/kubernetes/kubernetes-settings.js';
import { GithubConfigSource } from '../src/provisioners/preview-config-source.js';
import type { ProvisionTarget } from '../src/provisioners/provisioner.js';
import { workerSettings, type EnvOverrides } from './worker-settings.js';

/**
 * How long a (Kubernetes) second lasts in these tests, for the worker's timers and the fake API server's controllers
 * alike: one clock, so a progress deadline, a back-off or a rollout timeout happens in the same order as on a cluster.
 */
export const KUBE_SECOND_MS = 10;

/**
 * The real Kubernetes provisioner, through @kubernetes/client-node, against the fake API server, reading
 * `.ephemera.yml` through the fake GitHub's contents API with the App's installation token. The kubeconfig is
 * written to a folder added to `dirs`, for the test to remove. `env`: the worker's environment besides the tests' own.
 */
export function kubeProvisionerFor(fake: FakeKubernetes, env: EnvOverrides, dirs: string[], clock: Partial<ProvisionerClock> = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'ephemera-kube-'));
  dirs.push(dir);
  const kubeconfigPath = fake.writeKubeconfig(dir);
  return ({ fakeGithub, pem }: { fakeGithub: FakeGithub; pem: string }) =>
    new KubernetesProvisioner(kubeSettings('test', { PREVIEW_SECRETS_NAMESPACE: 'preview-secrets', PREVIEW_SECRETS_ALLOWED: 'preview-db' }, env), {
      api: new KubeApi({ kubeconfigPath, requestTimeoutMs: 5_000 }),
      configs: new GithubConfigSource(new InstallationClients({ appId: 42, privateKey: pem }, fakeGithub.url, 5_000), { maxReplicas: 3 }),
      clock: { ...TEST_CLOCK, pollMs: 20, ...clock },
    });
}

/** PREVIEW_ROUTING=gateway on the Gateway gateway-system/previews (which ends TLS, so no ingress class either). */
export const GATEWAY_ENV: EnvOverrides = { PREVIEW_ROUTING: 'gateway', PREVIEW_GATEWAY: 'gateway-system/previews', INGRESS_CLASS: undefined };

/** The provisioner's clock in these tests: a Kubernetes second of KUBE_SECOND_MS. */
const TEST_CLOCK: ProvisionerClock = { pollMs: 10, secondMs: KUBE_SECOND_MS };

/**
 * The worker's configuration as these tests run the provisioner (installation `instance`, previews under
 * preview.test behind the `nginx` ingress class), parsed by the worker's own loader, with `env` on top.
 */
export function kubeSettings(instance: string, ...env: EnvOverrides[]): WorkerConfig {
  return workerSettings(
    { EPHEMERA_INSTANCE: instance, PREVIEW_BASE_DOMAIN: 'preview.test', INGRESS_CLASS: 'nginx', DESTROY_TIMEOUT_SECONDS: '60' },
    ...env,
  );
}

/**
 * The provisioner on an API of the test's own, for tests that hand it targets directly: each target carries its
 * configuration, so none is read from GitHub.
 */
export function directProvisioner(api: KubeApi, instance: string, env: EnvOverrides = {}): KubernetesProvisioner {
  return new KubernetesProvisioner(kubeSettings(instance, env), {
    api,
    configs: { load: () => Promise.reject(new Error('the target carries its configuration')) },
    clock: TEST_CLOCK,
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
