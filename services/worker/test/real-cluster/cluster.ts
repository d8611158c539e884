import { setTimeout as sleep } from 'node:timers/promises';
import type { Deployment, Environment } from '@ephemera/db';
import type { FakeGithub } from '@ephemera/testkit';
import { InstallationClients } from '../../src/github/installation-clients.js';
import { KubeApi } from '../../src/provisioners/kubernetes/kube-api.js';
import { KubernetesProvisioner } from '../../src/provisioners/kubernetes/kubernetes-provisioner.js';
import { GithubConfigSource } from '../../src/provisioners/preview-config-source.js';
import type { Harness } from '../harness.js';
import { workerSettings, type EnvOverrides } from '../worker-settings.js';

// What the real-cluster suite shares: the cluster's API, the provisioner as an operator would configure it for a
// kind/k3d cluster, and waits that end with what the worker logged when they run out (a CI run is all there is to read).

/** EPHEMERA_TEST_KUBECONFIG names the cluster's kubeconfig; EPHEMERA_TEST_KUBE_CONTEXT one of its contexts. */
export const kubeconfig = process.env.EPHEMERA_TEST_KUBECONFIG;

export function clusterApi(): KubeApi {
  return new KubeApi({ kubeconfigPath: kubeconfig, context: process.env.EPHEMERA_TEST_KUBE_CONTEXT, requestTimeoutMs: 30_000 });
}

/**
 * The Kubernetes provisioner against the cluster, reading `.ephemera.yml` through the harness's fake GitHub.
 * `instance` keeps each harness's namespaces its own: the scratch databases all count environment ids from 1, so
 * a sweep of one harness must never see another's namespaces as orphans.
 */
export function clusterProvisionerFor(api: KubeApi, instance: string, env: EnvOverrides = {}) {
  const settings = workerSettings(
    {
      EPHEMERA_INSTANCE: instance,
      PREVIEW_BASE_DOMAIN: '127.0.0.1.nip.io',
      PREVIEW_URL_SCHEME: 'http',
      PREVIEW_QUOTA_CPU: '2',
      PREVIEW_QUOTA_MEMORY: '2Gi',
      PREVIEW_QUOTA_PODS: '10',
      PREVIEW_DEFAULT_CPU: '100m',
      PREVIEW_DEFAULT_MEMORY: '64Mi',
      DESTROY_TIMEOUT_SECONDS: '300',
    },
    env,
  );
  return ({ fakeGithub, pem }: { fakeGithub: FakeGithub; pem: string }) =>
    new KubernetesProvisioner(settings, {
      api,
      configs: new GithubConfigSource(new InstallationClients({ appId: 42, privateKey: pem }, fakeGithub.url, 10_000), { maxReplicas: 3 }),
    });
}

/** What a failed expectation shows: the outcome with the end of the worker's log of the deployment. */
export function outcome(env: Environment, dep: Deployment | null) {
  return {
    status: env.status,
    errorMessage: env.errorMessage,
    deployment: dep ? { status: dep.status, errorMessage: dep.errorMessage, logs: (dep.logs ?? '').split('\n').slice(-40).join('\n') } : null,
  };
}

/**
 * Waits until the deployment of `commitSha` for the pull request has ended (SUCCESS or FAILED), then until the
 * queues are quiet (the feedback that follows it); throws with the environment and the worker's log of the deployment
 * when `budgetMs` runs out.
 */
export async function settle(h: Harness, repository: string, pr: number, commitSha: string, budgetMs: number): Promise<{ env: Environment; dep: Deployment }> {
  const deadline = Date.now() + budgetMs;
  for (;;) {
    const env = await h.db.environment.findFirst({ where: { repositoryFullName: repository, prNumber: pr } });
    const dep = env ? await h.db.deployment.findFirst({ where: { environmentId: env.id, commitSha }, orderBy: { id: 'desc' } }) : null;
    if (env && dep && (dep.status === 'SUCCESS' || dep.status === 'FAILED')) {
      await h.drain(60_000);
      return {
        env: await h.db.environment.findUniqueOrThrow({ where: { id: env.id } }),
        dep: await h.db.deployment.findUniqueOrThrow({ where: { id: dep.id } }),
      };
    }
    if (Date.now() > deadline) {
      throw new Error(`${repository}#${pr} at ${commitSha.slice(0, 7)} did not finish within ${budgetMs / 1000} s: ${JSON.stringify(env ? outcome(env, dep) : null, null, 2)}`);
    }
    await sleep(1_000);
  }
}

/**
 * Waits for a teardown to end: the destroy job asks for the namespace's deletion and returns, and the teardown sweep
 * follows the namespace until it is gone (DESTROYED) or past DESTROY_TIMEOUT_SECONDS (FAILED). Returns the
 * environment once it is DESTROYED or FAILED, after the queues are quiet.
 */
export async function waitForTeardown(h: Harness, environmentId: number, budgetMs: number): Promise<Environment> {
  const deadline = Date.now() + budgetMs;
  for (;;) {
    const env = await h.db.environment.findUniqueOrThrow({ where: { id: environmentId } });
    if (env.status === 'DESTROYED' || env.status === 'FAILED') {
      await h.drain(60_000);
      return h.db.environment.findUniqueOrThrow({ where: { id: environmentId } });
    }
    if (Date.now() > deadline) {
      const dep = await h.db.deployment.findFirst({ where: { environmentId }, orderBy: { id: 'desc' } });
      throw new Error(`environment ${environmentId} not torn down within ${budgetMs / 1000} s: ${JSON.stringify(outcome(env, dep), null, 2)}`);
    }
    await sleep(1_000);
  }
}

/** Deletes whatever namespaces the harness's provisioner left (failed previews keep theirs), without waiting. */
export async function deleteLeftNamespaces(h: Harness | undefined): Promise<void> {
  const provisioner = h?.provisioner;
  if (!(provisioner instanceof KubernetesProvisioner)) return;
  const signal = AbortSignal.timeout(60_000);
  for (const ns of await provisioner.ownedNamespaces(signal)) {
    if (!ns.terminating) await provisioner.deleteNamespace(ns.namespace, signal);
  }
}
