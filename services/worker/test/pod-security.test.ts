import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { V1PodSpec, V1StatefulSet } from '@kubernetes/client-node';
import { startFakeKubernetes, type FakeKubernetes } from '@ephemera/testkit';
import { KubeApi } from '../src/provisioners/kubernetes/kube-api.js';
import { environmentSelector } from '../src/provisioners/kubernetes/preview-labels.js';
import { jobManifest } from '../src/provisioners/kubernetes/preview-job.js';
import { waitForRollout } from '../src/provisioners/kubernetes/rollout-waiter.js';
import type { ProvisionTarget } from '../src/provisioners/provisioner.js';
import { KUBE_SECOND_MS, directProvisioner, directTarget } from './kube-provisioner.js';
import { PREVIEW_YAML, deploymentsOf, ofKind, previewConfig, renderInput, renderPreview } from './preview-render.js';
import type { EnvOverrides } from './worker-settings.js';

/**
 * The Pod Security Standards' `restricted` profile, written out from https://kubernetes.io/docs/concepts/security/pod-security-standards/
 * (baseline controls included, as `restricted` includes them): the violations of one pod spec.
 */
function restrictedViolations(spec: V1PodSpec): string[] {
  const v: string[] = [];
  const containers = [...(spec.initContainers ?? []), ...spec.containers];
  const pod = spec.securityContext ?? {};
  // Baseline: host namespaces, privileged containers, capabilities, hostPath, host ports, AppArmor, SELinux, /proc, sysctls.
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC) v.push('host namespaces');
  if ((spec.volumes ?? []).some((vol) => vol.hostPath)) v.push('hostPath volumes');
  // Restricted: volume types limited to configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected, secret.
  const allowedVolumes = ['name', 'configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];
  for (const vol of spec.volumes ?? []) if (Object.keys(vol).some((k) => !allowedVolumes.includes(k))) v.push(`volume type of ${vol.name}`);
  if (pod.seLinuxOptions?.type && !['container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t'].includes(pod.seLinuxOptions.type)) v.push('SELinux type');
  if ((pod.sysctls ?? []).length > 0) v.push('sysctls (only the safe set)');
  // Running as non-root user: runAsUser must not be 0 at pod or container level.
  if (pod.runAsUser === 0) v.push('pod runAsUser=0');
  for (const c of containers) {
    const sc = c.securityContext ?? {};
    const name = c.name;
    if (sc.privileged) v.push(`${name}: privileged`);
    if ((c.ports ?? []).some((p) => p.hostPort)) v.push(`${name}: hostPort`);
    if (sc.procMount && sc.procMount !== 'Default') v.push(`${name}: procMount`);
    if (sc.windowsOptions?.hostProcess) v.push(`${name}: hostProcess`);
    // Restricted: privilege escalation.
    if (sc.allowPrivilegeEscalation !== false) v.push(`${name}: allowPrivilegeEscalation must be false`);
    // Restricted: running as non-root.
    if ((sc.runAsNonRoot ?? pod.runAsNonRoot) !== true) v.push(`${name}: runAsNonRoot must be true`);
    if (sc.runAsUser === 0) v.push(`${name}: runAsUser=0`);
    // Restricted: seccomp RuntimeDefault or Localhost (pod or every container).
    if (!['RuntimeDefault', 'Localhost'].includes(sc.seccompProfile?.type ?? pod.seccompProfile?.type ?? '')) v.push(`${name}: seccompProfile`);
    // Restricted: capabilities must drop ALL, and may add only NET_BIND_SERVICE.
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) v.push(`${name}: capabilities.drop must include ALL`);
    const added = (sc.capabilities?.add ?? []).filter((cap) => cap !== 'NET_BIND_SERVICE');
    if (added.length > 0) v.push(`${name}: capabilities.add ${added.join(',')}`);
  }
  return v;
}

describe('a preview rendered with the defaults meets Pod Security `restricted`', () => {
  const objects = renderPreview();

  it('the namespace enforces restricted (latest), and every pod spec passes its rules', () => {
    const ns = objects.find((o) => o.kind === 'Namespace')!;
    expect(ns.metadata!.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' });
    const deployments = deploymentsOf(objects);
    expect(deployments.map((d) => d.metadata!.name)).toEqual(['web', 'worker']);
    for (const d of deployments) expect({ name: d.metadata!.name, violations: restrictedViolations(d.spec!.template.spec!) }).toEqual({ name: d.metadata!.name, violations: [] });
  });

  it('add-on StatefulSets (postgres, mysql, redis) and job runs pass its rules too, as the images’ non-root user', () => {
    const config = previewConfig(`${PREVIEW_YAML}addons:
  db: { type: postgres }
  mysql: { type: mysql, url_env: MYSQL_URL }
  cache: { type: redis }
jobs:
  migrate: { image: "ghcr.io/acme/web:{{sha}}", command: [npm, run, migrate], when: before_deploy }
`);
    const objects = renderPreview({}, config);
    const sets = ofKind<V1StatefulSet>(objects, 'StatefulSet');
    expect(sets.map((s) => s.metadata!.name)).toEqual(['db', 'mysql', 'cache']);
    for (const s of sets) {
      const spec = s.spec!.template.spec!;
      expect({ name: s.metadata!.name, violations: restrictedViolations(spec) }).toEqual({ name: s.metadata!.name, violations: [] });
      expect(spec.securityContext).toMatchObject({ runAsUser: 999, fsGroup: 999 });
    }
    const input = renderInput({}, config);
    const run = jobManifest(input, 'migrate', config.jobs!.migrate!, 'migrate-aaaaaaa-12');
    expect(restrictedViolations(run.spec!.template.spec!)).toEqual([]);
  });

  it('every container gets the restricted securityContext; run_as_user sets runAsUser', () => {
    const config = previewConfig(PREVIEW_YAML.replace('    port: 3000\n', '    port: 3000\n    run_as_user: 1000\n'));
    const [web, worker] = deploymentsOf(renderPreview({}, config)).map((d) => d.spec!.template.spec!.containers[0]!.securityContext);
    const restricted = { runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } };
    expect(web).toEqual({ ...restricted, runAsUser: 1000 });
    expect(worker).toEqual(restricted);
  });

  it('PREVIEW_POD_SECURITY=baseline sets the namespace label; .ephemera.yml has no way to lower it', () => {
    const ns = renderPreview({ PREVIEW_POD_SECURITY: 'baseline' }).find((o) => o.kind === 'Namespace')!;
    expect(ns.metadata!.labels!['pod-security.kubernetes.io/enforce']).toBe('baseline');
    expect(() => previewConfig(`${PREVIEW_YAML}pod_security: privileged\n`)).toThrow(/pod_security/);
    expect(() => previewConfig(PREVIEW_YAML.replace('    port: 3000\n', '    port: 3000\n    run_as_user: 0\n'))).toThrow(/run_as_user/);
  });

  it('ephemeral storage: LimitRange defaults and quota', () => {
    const limits = objects.find((o) => o.kind === 'LimitRange') as unknown as { spec: { limits: Array<Record<string, Record<string, string>>> } };
    expect(limits.spec.limits[0]!._default).toMatchObject({ 'ephemeral-storage': '1Gi' });
    expect(limits.spec.limits[0]!.defaultRequest).toMatchObject({ 'ephemeral-storage': '1Gi' });
    const quota = objects.find((o) => o.kind === 'ResourceQuota') as unknown as { spec: { hard: Record<string, string> } };
    expect(quota.spec.hard).toMatchObject({ 'requests.ephemeral-storage': '4Gi', 'limits.ephemeral-storage': '4Gi' });
  });
});

describe('the fake API server (enforcing Pod Security) admits a preview in a restricted namespace', () => {
  let fake: FakeKubernetes;
  let dir: string;
  let api: KubeApi;
  beforeAll(async () => {
    fake = await startFakeKubernetes({ terminatingMs: 50, controllerDelayMs: 10, secondMs: KUBE_SECOND_MS });
    dir = mkdtempSync(path.join(tmpdir(), 'ephemera-pss-'));
    api = new KubeApi({ kubeconfigPath: fake.writeKubeconfig(dir), requestTimeoutMs: 5_000 });
  });
  afterAll(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const provisioner = (env: EnvOverrides = {}) => directProvisioner(api, 'pss', env);
  const target = (pr: number): ProvisionTarget => directTarget(pr, 'pss', 'c'.repeat(40), { file: '.ephemera.yml', config: previewConfig(PREVIEW_YAML) });

  it('an end-to-end deploy reaches READY; the pods were admitted under restricted:latest', async () => {
    const logs: string[] = [];
    const result = await provisioner().provision(target(1), (l) => logs.push(l), new AbortController().signal);
    expect(result.url).toBe('https://pr-1-web-pss.preview.test');
    expect(fake.get('v1', 'Namespace', undefined, 'pr-1-web-pss').metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    const pods = fake.list('v1', 'Pod', 'pr-1-web-pss');
    expect(pods.length).toBe(2);
    for (const p of pods) expect(p.spec.containers[0].securityContext).toMatchObject({ runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
    expect(logs.join('\n')).not.toMatch(/PodSecurity/);
  });

  it('a pod the namespace refuses fails the rollout, with the admission message as its reason', async () => {
    const namespace = 'pr-2-web-pss';
    const labels = { 'app.kubernetes.io/managed-by': 'ephemera', 'ephemera.dev/environment': '2', 'ephemera.dev/instance': 'pss' };
    await api.core.createNamespace({ body: { metadata: { name: namespace, labels: { ...labels, 'pod-security.kubernetes.io/enforce': 'restricted' } } } });
    // A pod spec as a hand-written manifest has it: no securityContext at all.
    await api.apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'web', labels },
        spec: {
          progressDeadlineSeconds: 30,
          selector: { matchLabels: { 'ephemera.dev/service': 'web' } },
          template: { metadata: { labels: { ...labels, 'ephemera.dev/service': 'web' } }, spec: { containers: [{ name: 'web', image: 'ghcr.io/acme/web:1' }] } },
        },
      },
    });
    const logs: string[] = [];
    const wait = waitForRollout(
      { api, namespace, selector: environmentSelector(2, 'pss'), services: ['web'], timeoutSeconds: 30, log: (l) => logs.push(l), signal: new AbortController().signal },
      { secondMs: KUBE_SECOND_MS, crashRestarts: 3, resyncSeconds: 60, tailLines: 20 },
    );
    await expect(wait).rejects.toThrow(/^web: FailedCreate: .*violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false/);
    expect(logs.join('\n')).toMatch(/FailedCreate: .*violates PodSecurity "restricted:latest"/);
  });
});
