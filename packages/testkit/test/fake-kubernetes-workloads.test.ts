import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BatchV1Api, KubeConfig, type V1Job, type V1StatefulSet } from '@kubernetes/client-node';
import type { RolloutScript } from '../src/fake-kubernetes.js';
import { apply, apps, core, failure, fake, namespace, startApi, waitFor } from './api-fixture.js';

/* StatefulSets with claims, Jobs and PersistentVolumeClaims, through the official client. */

const scripts = new Map<string, RolloutScript>();
let batch: BatchV1Api;

beforeAll(async () => {
  await startApi({ controllerDelayMs: 10, secondMs: 40, terminatingMs: 60, rollout: (ctx) => scripts.get(`${ctx.kind}/${ctx.name}`) ?? 'success' });
  const kc = new KubeConfig();
  kc.loadFromString(fake.kubeconfig);
  batch = kc.makeApiClient(BatchV1Api);
  await apply({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'standard', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } }, provisioner: 'rancher.io/local-path' });
});
afterAll(() => fake.close());

function db(ns: string, image = 'postgres:16', storage = '1Gi'): V1StatefulSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'db', namespace: ns },
    spec: {
      serviceName: 'db',
      replicas: 1,
      selector: { matchLabels: { app: 'db' } },
      template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'postgres', image, volumeMounts: [{ name: 'data', mountPath: '/var/lib/postgresql/data' }] }] } },
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage } } } }],
    },
  };
}

function job(ns: string, name: string, extra: Partial<NonNullable<V1Job['spec']>> = {}): V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: ns },
    spec: { backoffLimit: 0, ...extra, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'migrate', image: 'ghcr.io/acme/api:1.0.0' }] } } },
  };
}

/** kubectl rollout status for a StatefulSet (RollingUpdate): done or why not. */
function stsRolloutStatus(sts: V1StatefulSet): string {
  const s = sts.status;
  if (!s?.observedGeneration || (sts.metadata?.generation ?? 0) > s.observedGeneration) return 'waiting for statefulset spec update to be observed';
  if (sts.spec?.replicas !== undefined && (s.readyReplicas ?? 0) < sts.spec.replicas) return 'waiting for pods to be ready';
  if (s.updateRevision !== s.currentRevision) return 'waiting for statefulset rolling update to complete';
  return 'done';
}

const finished = (ns: string, name: string) =>
  waitFor(`job ${name} to finish`, async () => {
    const j = await batch.readNamespacedJob({ name, namespace: ns });
    return j.status?.conditions?.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True') ? j : undefined;
  });

describe('fake Kubernetes API server: StatefulSets, Jobs, PersistentVolumeClaims', () => {
  it('binds a StatefulSet pod’s claim to the default class and makes the pod ready, as kubectl reads its status', async () => {
    await apply(namespace('sts'));
    await apply(db('sts'));
    const sts = await waitFor('the StatefulSet to roll out', async () => {
      const s = await apps.readNamespacedStatefulSet({ name: 'db', namespace: 'sts' });
      return stsRolloutStatus(s) === 'done' ? s : undefined;
    });
    expect(sts.status).toMatchObject({ observedGeneration: 1, replicas: 1, readyReplicas: 1, availableReplicas: 1, currentReplicas: 1, updatedReplicas: 1 });
    expect(sts.status?.updateRevision).toMatch(/^db-[bcdfghjklmnpqrstvwxz2456789]+$/);
    expect(sts.spec?.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
    const pvc = await core.readNamespacedPersistentVolumeClaim({ name: 'data-db-0', namespace: 'sts' });
    expect(pvc.spec?.storageClassName).toBe('standard');
    expect(pvc.status).toMatchObject({ phase: 'Bound', capacity: { storage: '1Gi' } });
    const pod = await core.readNamespacedPod({ name: 'db-0', namespace: 'sts' });
    expect(pod.metadata?.labels).toMatchObject({ 'controller-revision-hash': sts.status?.updateRevision, 'statefulset.kubernetes.io/pod-name': 'db-0' });
    expect(pod.spec?.volumes).toContainEqual({ name: 'data', persistentVolumeClaim: { claimName: 'data-db-0' } });
  });

  it('rolls the pod on a template change to a new updateRevision, keeping the same claim object', async () => {
    const before = await apps.readNamespacedStatefulSet({ name: 'db', namespace: 'sts' });
    const claimUid = (await core.readNamespacedPersistentVolumeClaim({ name: 'data-db-0', namespace: 'sts' })).metadata?.uid;
    const podUid = (await core.readNamespacedPod({ name: 'db-0', namespace: 'sts' })).metadata?.uid;
    await apply(db('sts', 'postgres:16.4'));
    const after = await waitFor('the rolling update', async () => {
      const s = await apps.readNamespacedStatefulSet({ name: 'db', namespace: 'sts' });
      return s.status?.observedGeneration === 2 && stsRolloutStatus(s) === 'done' ? s : undefined;
    });
    expect(after.status?.updateRevision).not.toBe(before.status?.updateRevision);
    expect(after.status?.currentRevision).toBe(after.status?.updateRevision);
    const pod = await core.readNamespacedPod({ name: 'db-0', namespace: 'sts' });
    expect(pod.metadata?.uid).not.toBe(podUid);
    expect(pod.spec?.containers[0]?.image).toBe('postgres:16.4');
    expect((await core.readNamespacedPersistentVolumeClaim({ name: 'data-db-0', namespace: 'sts' })).metadata?.uid).toBe(claimUid);
    const revisions = await apps.listNamespacedControllerRevision({ namespace: 'sts' });
    expect(revisions.items.map((r) => r.revision).sort()).toEqual([1, 2]);
  });

  it('refuses a change to the claim templates with 422', async () => {
    const { code, status } = await failure(apply(db('sts', 'postgres:16.4', '2Gi')));
    expect(code).toBe(422);
    expect(status.message).toBe(
      `StatefulSet.apps "db" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden`,
    );
  });

  it('keeps a StatefulSet pod crash-looping when its script says so', async () => {
    scripts.set('StatefulSet/db', 'CrashLoopBackOff');
    await apply(namespace('crash'));
    await apply(db('crash'));
    const pod = await waitFor('the back-off', async () => {
      const p = await core.readNamespacedPod({ name: 'db-0', namespace: 'crash' }).catch(() => undefined);
      return p?.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff' ? p : undefined;
    });
    expect(pod.status?.containerStatuses?.[0]?.restartCount).toBeGreaterThanOrEqual(1);
    expect(pod.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode).toBe(1);
    // Between restarts the pod is not ready, and kubectl keeps waiting.
    const sts = await waitFor('the status to follow', async () => {
      const s = await apps.readNamespacedStatefulSet({ name: 'db', namespace: 'crash' });
      return s.status?.readyReplicas === undefined && s.status?.replicas === 1 ? s : undefined;
    });
    expect(stsRolloutStatus(sts)).toBe('waiting for pods to be ready');
  });

  it('completes a Job and serves its pod’s log', async () => {
    scripts.set('Job/migrate', { crash: { exitCode: 0, log: 'applying 0001_init.sql\nmigrations done' } });
    await apply(namespace('jobs'));
    await apply(job('jobs', 'migrate'));
    const done = await finished('jobs', 'migrate');
    expect(done.status?.conditions?.map((c) => [c.type, c.status])).toEqual([['Complete', 'True']]);
    expect(done.status).toMatchObject({ succeeded: 1, ready: 0 });
    expect(done.status?.completionTime).toBeDefined();
    expect(done.spec?.selector?.matchLabels).toEqual({ 'batch.kubernetes.io/controller-uid': done.metadata?.uid });
    const pods = await core.listNamespacedPod({ namespace: 'jobs', labelSelector: 'batch.kubernetes.io/job-name=migrate' });
    expect(pods.items).toHaveLength(1);
    const pod = pods.items[0]!;
    expect(pod.metadata?.name).toMatch(/^migrate-[a-z0-9]{5}$/);
    expect(pod.metadata?.labels).toMatchObject({ 'job-name': 'migrate', 'controller-uid': done.metadata?.uid });
    expect(pod.status?.phase).toBe('Succeeded');
    expect(await core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: 'jobs' })).toBe('applying 0001_init.sql\nmigrations done\n');
  });

  it('a Job that ran to its default end leaves every other workload\'s default run alone (pods keep running)', async () => {
    // The crash loop scripted for StatefulSet db above is not this one's.
    scripts.delete('StatefulSet/db');
    await apply(namespace('shared'));
    await apply(job('shared', 'defaulted'));
    expect((await finished('shared', 'defaulted')).status?.conditions?.map((c) => c.type)).toEqual(['Complete']);
    await apply(db('shared'));
    await waitFor('the StatefulSet to roll out after the Job', async () => {
      const s = await apps.readNamespacedStatefulSet({ name: 'db', namespace: 'shared' });
      return stsRolloutStatus(s) === 'done' ? s : undefined;
    });
    // Ten (Kubernetes) seconds on: a run that ends would have ended, and restarted, by now.
    await new Promise((r) => setTimeout(r, 10 * 40));
    const pod = await core.readNamespacedPod({ name: 'db-0', namespace: 'shared' });
    expect(pod.status?.phase).toBe('Running');
    expect(pod.status?.containerStatuses?.[0]).toMatchObject({ ready: true, restartCount: 0 });
  });

  it('fails a Job whose container exits 1 with BackoffLimitExceeded at backoffLimit 0', async () => {
    scripts.set('Job/broken', { crash: { exitCode: 1, log: 'relation "users" already exists' } });
    await apply(job('jobs', 'broken'));
    const done = await finished('jobs', 'broken');
    expect(done.status?.conditions?.map((c) => [c.type, c.reason, c.message])).toEqual([['Failed', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit']]);
    expect(done.status?.failed).toBe(1);
    const pod = (await core.listNamespacedPod({ namespace: 'jobs', labelSelector: 'job-name=broken' })).items[0]!;
    expect(pod.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(1);
    expect(await core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: 'jobs' })).toBe('relation "users" already exists\n');
  });

  it('fails a Job running past activeDeadlineSeconds with DeadlineExceeded, deleting its pod', async () => {
    scripts.set('Job/slow', { crash: { exitCode: 0, runSeconds: 1000 } });
    await apply(job('jobs', 'slow', { activeDeadlineSeconds: 3 }));
    const done = await finished('jobs', 'slow');
    expect(done.status?.conditions?.map((c) => [c.type, c.reason])).toEqual([['Failed', 'DeadlineExceeded']]);
    expect((await core.listNamespacedPod({ namespace: 'jobs', labelSelector: 'job-name=slow' })).items).toEqual([]);
  });

  it('deletes a finished Job ttlSecondsAfterFinished later', async () => {
    await apply(job('jobs', 'seed', { ttlSecondsAfterFinished: 5 }));
    await finished('jobs', 'seed');
    await waitFor('the TTL controller', async () => ((await batch.listNamespacedJob({ namespace: 'jobs' })).items.some((j) => j.metadata?.name === 'seed') ? undefined : true));
    expect((await core.listNamespacedPod({ namespace: 'jobs', labelSelector: 'job-name=seed' })).items).toEqual([]);
  });

  it('refuses a Job without restartPolicy Never or OnFailure, and a template change', async () => {
    const bad = job('jobs', 'always');
    bad.spec!.template.spec!.restartPolicy = 'Always';
    const refused = await failure(apply(bad));
    expect(refused.code).toBe(422);
    expect(refused.status.message).toContain('spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"');
    const changed = job('jobs', 'migrate');
    changed.spec!.template.spec!.containers[0]!.image = 'ghcr.io/acme/api:2.0.0';
    const immutable = await failure(apply(changed));
    expect(immutable.code).toBe(422);
    expect(immutable.status.message).toContain('spec.template: Invalid value');
  });

  it('counts claims’ storage in the quota and refuses a claim over it', async () => {
    await apply(namespace('quota'));
    await apply({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'preview', namespace: 'quota' }, spec: { hard: { 'requests.storage': '5Gi', persistentvolumeclaims: '2' } } });
    await apply({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'one', namespace: 'quota' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '3Gi' } } } });
    const quota = await waitFor('the quota status', async () => {
      const q = await core.readNamespacedResourceQuota({ name: 'preview', namespace: 'quota' });
      return q.status?.used?.['requests.storage'] === '3Gi' ? q : undefined;
    });
    expect(quota.status?.used).toEqual({ 'requests.storage': '3Gi', persistentvolumeclaims: '1' });
    const { code, status } = await failure(
      apply({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'two', namespace: 'quota' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '4Gi' } } } }),
    );
    expect(code).toBe(403);
    expect(status.message).toBe('persistentvolumeclaims "two" is forbidden: exceeded quota: preview, requested: requests.storage=4Gi, used: requests.storage=3Gi, limited: requests.storage=5Gi');
  });

  it('removes the claims with the namespace', async () => {
    expect((await core.listNamespacedPersistentVolumeClaim({ namespace: 'sts' })).items).toHaveLength(1);
    await core.deleteNamespace({ name: 'sts' });
    await waitFor('the namespace to go', async () => (fake.list('v1', 'Namespace').some((n) => (n as { metadata: { name: string } }).metadata.name === 'sts') ? undefined : true));
    expect(fake.list('v1', 'PersistentVolumeClaim', 'sts')).toEqual([]);
    expect(fake.list('apps/v1', 'StatefulSet', 'sts')).toEqual([]);
  });
});
