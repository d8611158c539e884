import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { pullRequestPayload, startFakeKubernetes, type FakeKubernetes, type RolloutContext, type RolloutScript } from '@ephemera/testkit';
import { KubeApi } from '../src/provisioners/kubernetes/kube-api.js';
import { ProvisionError, type ProvisionTarget } from '../src/provisioners/provisioner.js';
import { at, startHarness, type Harness } from './harness.js';
import { KUBE_SECOND_MS, directProvisioner, directTarget, kubeProvisionerFor } from './kube-provisioner.js';
import { previewConfig } from './preview-render.js';

/* A whole app on the fake API server: add-ons with their data kept across pushes, job runs, routes. */

const WEB = `version: 1
services:
  web:
    image: ghcr.io/acme/web:{{sha}}
    port: 3000
`;
const WITH_DB = `${WEB}addons:
  db: { type: postgres }
`;

const sha = (c: string) => c.repeat(40);
const signal = new AbortController().signal;

describe('a whole app on the Kubernetes provisioner (fake API server)', () => {
  let fake: FakeKubernetes;
  let dir: string;
  let api: KubeApi;
  const scripts = new Map<string, RolloutScript>();

  beforeAll(async () => {
    fake = await startFakeKubernetes({
      terminatingMs: 50,
      controllerDelayMs: 10,
      secondMs: KUBE_SECOND_MS,
      rollout: (ctx: RolloutContext) => scripts.get(`${ctx.kind}/${ctx.name}`) ?? 'success',
    });
    fake.seed({
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: 'standard', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
      provisioner: 'rancher.io/local-path',
    });
    dir = mkdtempSync(path.join(tmpdir(), 'ephemera-app-'));
    api = new KubeApi({ kubeconfigPath: fake.writeKubeconfig(dir), requestTimeoutMs: 5_000 });
  });
  afterAll(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const provisioner = () => directProvisioner(api, 'app');
  const target = (pr: number, commit: string, yaml: string, extra: Partial<ProvisionTarget> = {}): ProvisionTarget => ({
    ...directTarget(pr, 'app', commit, { file: '.ephemera.yml', config: previewConfig(yaml) }),
    ...extra,
  });

  it('a Postgres add-on: its claim and its Secret’s password survive a push; services get DATABASE_URL by reference', async () => {
    const logs: string[] = [];
    await provisioner().provision(target(1, sha('a'), WITH_DB), (l) => logs.push(l), signal);
    const ns = 'pr-1-web-app';
    const claim = fake.get('v1', 'PersistentVolumeClaim', ns, 'data-db-0');
    expect(claim.status.phase).toBe('Bound');
    const secret = fake.get('v1', 'Secret', ns, 'db-credentials');
    const url = Buffer.from(secret.data.url, 'base64').toString();
    expect(url).toMatch(/^postgres:\/\/app:[0-9a-f]{48}@db:5432\/app$/);
    expect(fake.get('apps/v1', 'StatefulSet', ns, 'db').status.readyReplicas).toBe(1);
    const web = fake.get('apps/v1', 'Deployment', ns, 'web');
    expect(web.spec.template.spec.containers[0].env).toEqual([{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'db-credentials', key: 'url' } } }]);
    // The add-on was ready before the services rolled.
    const text = logs.join('\n');
    expect(text.indexOf('add-on db ready')).toBeGreaterThan(-1);
    expect(text.indexOf('add-on db ready')).toBeLessThan(text.indexOf('Deployment/web'));

    await provisioner().update(target(1, sha('b'), WITH_DB), () => {}, signal);
    const after = fake.get('v1', 'PersistentVolumeClaim', ns, 'data-db-0');
    expect(after.metadata.uid).toBe(claim.metadata.uid);
    expect(fake.get('v1', 'Secret', ns, 'db-credentials').data).toEqual(secret.data);
    // A push does not restart the database: its pod is the same.
    expect(fake.get('apps/v1', 'StatefulSet', ns, 'db').status.currentRevision).toBe(fake.get('apps/v1', 'StatefulSet', ns, 'db').status.updateRevision);
    expect(fake.get('apps/v1', 'Deployment', ns, 'web').spec.template.metadata.annotations['ephemera.dev/commit']).toBe(sha('b'));
  });

  it('removing the add-on from the file prunes its StatefulSet, Service, Secret and claim', async () => {
    await provisioner().provision(target(2, sha('a'), WITH_DB), () => {}, signal);
    const ns = 'pr-2-web-app';
    expect(fake.get('v1', 'PersistentVolumeClaim', ns, 'data-db-0')).toBeDefined();
    const logs: string[] = [];
    await provisioner().update(target(2, sha('b'), WEB), (l) => logs.push(l), signal);
    for (const [apiVersion, kind, name] of [
      ['apps/v1', 'StatefulSet', 'db'],
      ['v1', 'Service', 'db'],
      ['v1', 'Secret', 'db-credentials'],
      ['v1', 'PersistentVolumeClaim', 'data-db-0'],
    ] as const) {
      expect({ kind, name, live: fake.get(apiVersion, kind, ns, name)?.metadata?.deletionTimestamp === undefined && fake.get(apiVersion, kind, ns, name) !== undefined }).toEqual({ kind, name, live: false });
    }
    expect(logs.join('\n')).toContain('removed PersistentVolumeClaim/data-db-0');
  });

  it('a fork’s preview gets its add-on too (from the base commit’s configuration)', async () => {
    await provisioner().provision(target(3, sha('c'), WITH_DB, { fromFork: true }), () => {}, signal);
    expect(fake.get('apps/v1', 'StatefulSet', 'pr-3-web-app', 'db').status.readyReplicas).toBe(1);
    expect(fake.get('v1', 'Secret', 'pr-3-web-app', 'db-credentials')).toBeDefined();
  });

  const MIGRATE = `${WITH_DB}jobs:
  migrate:
    image: "ghcr.io/acme/web:{{sha}}"
    command: [npm, run, migrate]
    when: before_deploy
`;

  it('migrations run before every deploy, after the add-on is ready and before the services roll, their log in the deployment’s', async () => {
    const ns = 'pr-5-web-app';
    const logs: string[] = [];
    await provisioner().provision(target(5, sha('a'), MIGRATE, { deploymentId: 51 }), (l) => logs.push(l), signal);
    const run = fake.get('batch/v1', 'Job', ns, 'migrate-aaaaaaa-51');
    expect(run.spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 600, ttlSecondsAfterFinished: 3600 });
    expect(run.spec.template.spec.automountServiceAccountToken).toBe(false);
    expect(run.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'ephemera', 'ephemera.dev/environment': '5' });
    expect(run.spec.template.spec.containers[0].env).toEqual([{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'db-credentials', key: 'url' } } }]);
    const text = logs.join('\n');
    expect(text.indexOf('add-on db ready')).toBeLessThan(text.indexOf('Job migrate-aaaaaaa-51 started'));
    expect(text.indexOf('job migrate succeeded')).toBeLessThan(text.indexOf('Deployment/web'));

    await provisioner().update(target(5, sha('b'), MIGRATE, { deploymentId: 52 }), () => {}, signal);
    expect(fake.get('batch/v1', 'Job', ns, 'migrate-bbbbbbb-52')).toBeDefined();
  });

  it('a failing migration fails the deployment with its exit code and log, and leaves the previous version serving', async () => {
    const ns = 'pr-6-web-app';
    await provisioner().provision(target(6, sha('a'), MIGRATE, { deploymentId: 61 }), () => {}, signal);
    scripts.set('Job/migrate-bbbbbbb-62', { crash: { exitCode: 1, log: 'running 0042_add_orders\nerror: relation "users" does not exist' } });
    const logs: string[] = [];
    const err = (await provisioner()
      .update(target(6, sha('b'), MIGRATE, { deploymentId: 62 }), (l) => logs.push(l), signal)
      .catch((e: unknown) => e)) as ProvisionError;
    expect(err).toBeInstanceOf(ProvisionError);
    expect(err.message).toBe('job migrate failed: exit code 1');
    expect(err.previousServing).toBe(true);
    expect(logs.join('\n')).toContain('error: relation "users" does not exist');
    // The services were not touched: still the first commit's.
    expect(fake.get('apps/v1', 'Deployment', ns, 'web').spec.template.metadata.annotations['ephemera.dev/commit']).toBe(sha('a'));
  });

  it('a job’s image outside PREVIEW_IMAGE_ALLOWED fails the deployment before anything is applied, as a service’s does', async () => {
    const yaml = `${WITH_DB}jobs:
  migrate:
    image: docker.io/library/node:20
    command: [npm, run, migrate]
    when: before_deploy
`;
    const before = fake.requests.length;
    const failure = directProvisioner(api, 'app', { PREVIEW_IMAGE_ALLOWED: 'ghcr.io/acme/*' }).provision(target(7, sha('a'), yaml, { deploymentId: 71 }), () => {}, signal);
    await expect(failure).rejects.toThrow('jobs.migrate.image docker.io/library/node:20 is not an image this installation runs (PREVIEW_IMAGE_ALLOWED: ghcr.io/acme/*)');
    await expect(failure).rejects.toMatchObject({ transient: false });
    expect(fake.requests.slice(before).filter((r) => r.verb !== 'get')).toEqual([]);
    expect(fake.get('v1', 'Namespace', undefined, 'pr-7-web-app')).toBeUndefined();
    // The same file with the job's image allowed deploys.
    await directProvisioner(api, 'app', { PREVIEW_IMAGE_ALLOWED: 'ghcr.io/acme/*,docker.io/library/node:*' }).provision(target(7, sha('a'), yaml, { deploymentId: 72 }), () => {}, signal);
    expect(fake.get('batch/v1', 'Job', 'pr-7-web-app', 'migrate-aaaaaaa-72')).toBeDefined();
  });

  it('routes: one preview host, a path per service', async () => {
    const yaml = `version: 1
services:
  web: { image: ghcr.io/acme/web:1, port: 3000 }
  api: { image: ghcr.io/acme/api:1, port: 8080 }
routes:
  - { path: /, service: web }
  - { path: /api, service: api }
`;
    await provisioner().provision(target(4, sha('d'), yaml), () => {}, signal);
    const ingress = fake.get('networking.k8s.io/v1', 'Ingress', 'pr-4-web-app', 'ephemera-preview');
    expect(ingress.spec.rules[0].http.paths.map((p: { path: string; backend: { service: { name: string } } }) => [p.path, p.backend.service.name])).toEqual([
      ['/api', 'api'],
      ['/', 'web'],
    ]);
  });
});

describe('after_create jobs: once per environment, recorded in the database (fake API server, PostgreSQL)', () => {
  const REPO = 'acme/seeded';
  const SEEDED = `version: 1
services:
  web:
    image: ghcr.io/acme/web:{{sha}}
    port: 3000
timeout_seconds: 600
addons:
  db: { type: postgres }
jobs:
  migrate:
    image: "ghcr.io/acme/web:{{sha}}"
    command: [npm, run, migrate]
    when: before_deploy
  seed:
    image: "ghcr.io/acme/web:{{sha}}"
    command: [npm, run, seed]
    when: after_create
`;
  const commit = (n: number) => createHash('sha1').update(`seeded ${n}`).digest('hex');
  const dirs: string[] = [];
  let fake: FakeKubernetes;
  let h: Harness;
  /** Seed runs that exit 1 (with a log) until this is turned off. */
  let seedFails = false;

  beforeAll(async () => {
    fake = await startFakeKubernetes({
      terminatingMs: 50,
      controllerDelayMs: 10,
      secondMs: KUBE_SECOND_MS,
      rollout: (ctx: RolloutContext) =>
        seedFails && ctx.kind === 'Job' && ctx.name.startsWith('seed-') ? { crash: { exitCode: 1, log: 'seeding users\nerror: duplicate key' } } : 'success',
    });
    fake.seed({
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: 'standard', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
      provisioner: 'rancher.io/local-path',
    });
    h = await startHarness({ provisionerFor: kubeProvisionerFor(fake, {}, dirs) });
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  async function deliver(pr: number, n: number, action: 'opened' | 'synchronize', step: number) {
    h.fakeGithub!.setFile(REPO, commit(n), '.ephemera.yml', SEEDED);
    await h.deliver(pullRequestPayload({ action, number: pr, repository: REPO, headSha: commit(n), updatedAt: at(step) }));
    await h.drain();
  }
  const env = (pr: number) =>
    h.db.environment.findFirstOrThrow({ where: { repositoryFullName: REPO, prNumber: pr }, include: { deployments: { orderBy: { id: 'asc' } } } });
  const runs = (namespace: string, job: string) =>
    fake
      .list('batch/v1', 'Job', namespace)
      .map((j: { metadata: { name: string } }) => j.metadata.name)
      .filter((name: string) => name.startsWith(`${job}-`))
      .sort();

  it('the seed runs on the first deploy, after the rollout and before READY, and not on the next push', async () => {
    await deliver(1, 1, 'opened', 1);
    let e = await env(1);
    expect(e.status).toBe('READY');
    expect(e.afterCreateSucceededAt).toBeInstanceOf(Date);
    const first = e.deployments[0]!;
    expect(runs(e.namespace, 'seed')).toEqual([`seed-${commit(1).slice(0, 7)}-${first.id}`]);
    const logs = first.logs ?? '';
    expect(logs.indexOf('rollout complete')).toBeGreaterThan(-1);
    expect(logs.indexOf('rollout complete')).toBeLessThan(logs.indexOf('job seed succeeded'));
    const stamped = e.afterCreateSucceededAt;

    await deliver(1, 2, 'synchronize', 2);
    e = await env(1);
    expect(e.deployments.map((d) => d.status)).toEqual(['SUCCESS', 'SUCCESS']);
    // Migrations ran again; the seed did not.
    expect(runs(e.namespace, 'migrate')).toHaveLength(2);
    expect(runs(e.namespace, 'seed')).toHaveLength(1);
    expect(e.afterCreateSucceededAt).toEqual(stamped);
  });

  it('a failed seed fails the deployment; the next push runs it again', async () => {
    seedFails = true;
    await deliver(2, 3, 'opened', 1);
    let e = await env(2);
    expect(e.status).toBe('FAILED');
    expect(e.afterCreateSucceededAt).toBeNull();
    expect(e.deployments[0]!.errorMessage).toBe('job seed failed: exit code 1');
    expect(e.deployments[0]!.logs).toContain('error: duplicate key');

    seedFails = false;
    await deliver(2, 4, 'synchronize', 2);
    e = await env(2);
    expect(e.status).toBe('READY');
    expect(e.afterCreateSucceededAt).toBeInstanceOf(Date);
    expect(e.deployments.map((d) => d.status)).toEqual(['FAILED', 'SUCCESS']);
    expect(runs(e.namespace, 'seed')).toEqual(
      e.deployments.map((d) => `seed-${d.commitSha.slice(0, 7)}-${d.id}`).sort(),
    );
  });
});
