import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { AccountAllowList } from '@ephemera/schema';
import { pullRequestPayload, startFakeKubernetes, type FakeKubernetes } from '@ephemera/testkit';
import { reconcileNamespaces } from '../src/jobs/cleanup/namespaces.js';
import { mendStuck } from '../src/jobs/cleanup/stuck.js';
import { CLUSTER_PERMISSIONS, PREVIEW_NAMESPACE_PERMISSIONS, permissionKeys, sourceSecretPermissions } from '../src/provisioners/kubernetes/kubernetes-permissions.js';
import { at, sha, startHarness, type Harness } from './harness.js';
import { KUBE_SECOND_MS, kubeProvisionerFor } from './kube-provisioner.js';
import type { EnvOverrides } from './worker-settings.js';

// The real driver, through @kubernetes/client-node, against the fake API server from the test kit; the
// configuration is read through the fake GitHub's contents API with the App's installation token.

const CONFIG = `version: 1
services:
  web:
    image: ghcr.io/acme/web:{{sha}}
    port: 3000
    env: { PUBLIC_URL: "{{url}}", BRANCH: "{{branch_slug}}", PR: "{{pr}}" }
    health: { path: /healthz }
  worker:
    image: ghcr.io/acme/worker:{{short_sha}}
    command: ["node", "worker.js"]
expose: web
timeout_seconds: 600
`;

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const provisionerFor = (fake: FakeKubernetes, env: EnvOverrides = {}) => kubeProvisionerFor(fake, env, dirs);

async function envOf(h: Harness, repository: string, pr: number) {
  return h.db.environment.findFirstOrThrow({ where: { repositoryFullName: repository, prNumber: pr } });
}

/** Every text the PR's one comment had, oldest first: created for the PR, then edited under its id. */
async function commentBodies(h: Harness, repository: string, pr: number): Promise<string[]> {
  const state = await h.db.pullRequestState.findFirstOrThrow({ where: { repositoryFullName: repository, prNumber: pr } });
  const bodies = h.fakeGithub!.requests
    .filter(
      (r) =>
        (r.method === 'PATCH' && r.path === `/repos/${repository}/issues/comments/${state.commentId}`) ||
        (r.method === 'POST' && r.path === `/repos/${repository}/issues/${pr}/comments`),
    )
    .map((r) => String(r.body?.body ?? ''));
  return bodies;
}

async function lastComment(h: Harness, repository: string, pr: number): Promise<string> {
  return (await commentBodies(h, repository, pr)).at(-1) ?? '';
}

describe('Kubernetes provisioner: a pull request from opened to closed', () => {
  const REPO = 'acme/web';
  let fake: FakeKubernetes;
  let h: Harness;
  beforeAll(async () => {
    fake = await startFakeKubernetes({ terminatingMs: 150, controllerDelayMs: 20, secondMs: KUBE_SECOND_MS });
    h = await startHarness({ provisionerFor: provisionerFor(fake) });
    for (const n of [1, 2, 3]) h.fakeGithub!.setFile(REPO, sha(n), '.ephemera.yml', CONFIG);
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
  });

  it('opened: namespace, fences, Deployments, Services and Ingress with the commit\'s image; READY at its URL', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 5, repository: REPO, headSha: sha(1), updatedAt: at(1) }));
    await h.drain();
    const env = await envOf(h, REPO, 5);
    expect(env.status).toBe('READY');
    expect(env.environmentUrl).toBe(`https://${env.namespace}.preview.test`);
    const owner = { 'app.kubernetes.io/managed-by': 'ephemera', 'ephemera.dev/environment': String(env.id), 'ephemera.dev/instance': 'test' };

    const ns = fake.get('v1', 'Namespace', undefined, env.namespace);
    expect(ns.metadata.labels).toMatchObject({ ...owner, 'ephemera.dev/pr': '5' });
    expect(ns.metadata.annotations).toMatchObject({ 'ephemera.dev/repository': REPO, 'ephemera.dev/pull-request-url': 'https://github.com/acme/web/pull/5' });

    const web = fake.get('apps/v1', 'Deployment', env.namespace, 'web');
    expect(web.metadata.labels).toMatchObject(owner);
    const container = web.spec.template.spec.containers[0];
    expect(container.image).toBe(`ghcr.io/acme/web:${sha(1)}`);
    expect(container.env).toEqual(
      expect.arrayContaining([
        { name: 'PUBLIC_URL', value: env.environmentUrl },
        { name: 'BRANCH', value: 'changes' },
        { name: 'PR', value: '5' },
      ]),
    );
    expect(container.readinessProbe.httpGet).toMatchObject({ path: '/healthz', port: 'http' });
    expect(web.spec.template.spec.automountServiceAccountToken).toBe(false);
    expect(web.spec.progressDeadlineSeconds).toBe(600);
    const worker = fake.get('apps/v1', 'Deployment', env.namespace, 'worker');
    expect(worker.spec.template.spec.containers[0]).toMatchObject({ image: `ghcr.io/acme/worker:${sha(1).slice(0, 7)}`, command: ['node', 'worker.js'] });

    expect(fake.get('v1', 'Service', env.namespace, 'web').spec).toMatchObject({ type: 'ClusterIP', ports: [{ port: 3000, targetPort: 'http' }] });
    // A service without a port gets no Service.
    expect(fake.get('v1', 'Service', env.namespace, 'worker')).toBeUndefined();
    const ingress = fake.list('networking.k8s.io/v1', 'Ingress', env.namespace)[0];
    expect(ingress.spec).toMatchObject({
      ingressClassName: 'nginx',
      rules: [{ host: `${env.namespace}.preview.test`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 3000 } } } }] } }],
    });
    expect(fake.list('v1', 'ResourceQuota', env.namespace)[0].spec.hard).toMatchObject({ 'limits.cpu': '2', 'limits.memory': '4Gi', pods: '20' });
    expect(fake.list('v1', 'LimitRange', env.namespace)[0].spec.limits[0]).toMatchObject({ type: 'Container', default: { cpu: '250m', memory: '256Mi' } });
    const policy = fake.list('networking.k8s.io/v1', 'NetworkPolicy', env.namespace)[0];
    expect(policy.spec.ingress).toEqual([
      { from: [{ podSelector: {} }] },
      { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }] },
    ]);
    // Every object carries the installation's labels, and every write was a server-side apply by `ephemera`, but
    // for the RoleBinding the worker may only create (and the reviews that ask the API server, which write nothing).
    for (const kind of ['ResourceQuota', 'LimitRange', 'Service'] as const) {
      for (const o of fake.list('v1', kind, env.namespace)) expect(o.metadata.labels).toMatchObject(owner);
    }
    expect(fake.get('rbac.authorization.k8s.io/v1', 'RoleBinding', env.namespace, 'ephemera-preview').metadata.labels).toMatchObject(owner);
    const writes = fake.requests.filter((r) => ['create', 'update', 'patch'].includes(r.verb) && !/^self/.test(r.resource));
    expect(writes.length).toBeGreaterThan(0);
    const creates = writes.filter((r) => r.verb === 'create');
    expect(creates.map((r) => `${r.resource} ${r.namespace}`)).toEqual([`rolebindings ${env.namespace}`]);
    expect(writes.filter((r) => r.verb !== 'create').every((r) => r.verb === 'patch' && r.contentType === 'application/apply-patch+yaml' && r.fieldManager === 'ephemera')).toBe(true);

    const dep = await h.db.deployment.findFirstOrThrow({ where: { environmentId: env.id } });
    expect(dep.status).toBe('SUCCESS');
    expect(dep.logs).toContain(`configuration: .ephemera.yml at ${sha(1).slice(0, 7)}`);
    expect(dep.logs).toMatch(/web: deployment "web" successfully rolled out/);
    const statuses = h.fakeGithub!.requests.filter((r) => r.path === `/repos/${REPO}/statuses/${sha(1)}`);
    expect(statuses.at(-1)?.body).toMatchObject({ state: 'success', target_url: env.environmentUrl });
    // The configuration was read at the head commit, as the installation.
    const read = h.fakeGithub!.requests.find((r) => r.path === `/repos/${REPO}/contents/.ephemera.yml`);
    expect(read?.authorization).toBe('token ghs_fake1');
  });

  it('a push rolls the new image; a service removed from the file is pruned', async () => {
    const env = await envOf(h, REPO, 5);
    const before = fake.get('apps/v1', 'Deployment', env.namespace, 'web');
    await h.deliver(pullRequestPayload({ action: 'synchronize', number: 5, repository: REPO, headSha: sha(2), updatedAt: at(2) }));
    await h.drain();
    const web = fake.get('apps/v1', 'Deployment', env.namespace, 'web');
    expect(web.spec.template.spec.containers[0].image).toBe(`ghcr.io/acme/web:${sha(2)}`);
    expect(web.metadata.uid).toBe(before.metadata.uid);
    expect(web.metadata.generation).toBeGreaterThan(before.metadata.generation);
    expect(web.status.observedGeneration).toBe(web.metadata.generation);
    expect((await envOf(h, REPO, 5)).status).toBe('READY');

    // The next push drops the worker service and the web service's health check.
    h.fakeGithub!.setFile(REPO, sha(3), '.ephemera.yml', CONFIG.replace(/ {2}worker:\n.*\n.*\n/, '').replace(/ {4}health: .*\n/, ''));
    await h.deliver(pullRequestPayload({ action: 'synchronize', number: 5, repository: REPO, headSha: sha(3), updatedAt: at(3) }));
    await h.drain();
    expect(fake.get('apps/v1', 'Deployment', env.namespace, 'worker')).toBeUndefined();
    const web3 = fake.get('apps/v1', 'Deployment', env.namespace, 'web').spec.template.spec.containers[0];
    expect(web3.image).toBe(`ghcr.io/acme/web:${sha(3)}`);
    expect(web3.readinessProbe).toBeUndefined();
    const dep = await h.db.deployment.findFirstOrThrow({ where: { environmentId: env.id, commitSha: sha(3) } });
    expect(dep.logs).toMatch(/removed Deployment\/worker \(no longer in the configuration\)/);
    expect((await envOf(h, REPO, 5)).status).toBe('READY');
  });

  it('closed: the namespace is deleted and waited for; DESTROYED', async () => {
    const env = await envOf(h, REPO, 5);
    await h.deliver(pullRequestPayload({ action: 'closed', number: 5, repository: REPO, headSha: sha(3), updatedAt: at(4) }));
    await h.drain();
    expect((await envOf(h, REPO, 5)).status).toBe('DESTROYED');
    expect(fake.get('v1', 'Namespace', undefined, env.namespace)).toBeUndefined();
    expect(fake.list('apps/v1', 'Deployment', env.namespace)).toEqual([]);
    expect(fake.requests.some((r) => r.verb === 'delete' && r.resource === 'namespaces' && r.name === env.namespace)).toBe(true);
    const latest = await h.db.deployment.findFirstOrThrow({ where: { environmentId: env.id }, orderBy: { id: 'desc' } });
    expect(latest.logs).toMatch(/namespace .* deletion requested[\s\S]*namespace .* deleted/);
    expect(await h.failedJobs()).toHaveLength(0);
  });

  it('used only what the permission tables list (the start-up check and the shipped roles)', () => {
    // Names aside: packages/deploy's lifecycle test runs with the roles themselves, names included.
    const tables = [...CLUSTER_PERMISSIONS, ...PREVIEW_NAMESPACE_PERMISSIONS, sourceSecretPermissions(['preview-db'])];
    const granted = new Set(permissionKeys(tables).map((k) => k.replace(/:.*$/, '')));
    // Every authenticated identity may review itself (Kubernetes' system:basic-user).
    for (const k of ['create authentication.k8s.io/selfsubjectreviews', 'create authorization.k8s.io/selfsubjectaccessreviews']) granted.add(k);
    const used = new Set(fake.requests.map((r) => `${r.verb} ${r.group}/${r.resource}`));
    expect([...used].filter((u) => !granted.has(u))).toEqual([]);
    expect(used.size).toBeGreaterThan(10);
  });
});

describe('Kubernetes provisioner: failures', () => {
  const REPO = 'acme/failing';
  let fake: FakeKubernetes;
  let h: Harness;
  beforeAll(async () => {
    fake = await startFakeKubernetes({
      terminatingMs: 50,
      controllerDelayMs: 10,
      secondMs: KUBE_SECOND_MS,
      rollout: ({ images }) =>
        images.some((i) => i.includes('missing'))
          ? 'ImagePullBackOff'
          : images.some((i) => i.includes('crash'))
            ? 'CrashLoopBackOff'
            : images.some((i) => i.includes('slow'))
              ? 'ProgressDeadlineExceeded'
              : images.some((i) => i.includes('quota'))
                ? 'FailedCreate'
              : images.some((i) => i.includes('hang'))
                ? 'pending'
                : 'success',
      crashLog: 'starting server\nError: Cannot find module \'/app/server.js\'\n    at Module._resolveFilename (node:internal/modules/cjs/loader:1225:15)',
    });
    h = await startHarness({ provisionerFor: provisionerFor(fake), provisionAttempts: 3 });
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
  });

  const single = (image: string, extra = '') => `version: 1\nservices:\n  web:\n    image: ${image}\n    port: 8080\n${extra}timeout_seconds: 30\n`;

  it('an image that cannot be pulled is waited for until the timeout, then FAILED with the reason in the API and the comment', async () => {
    h.fakeGithub!.setFile(REPO, sha(10), '.ephemera.yml', single('ghcr.io/acme/missing:{{sha}}'));
    await h.deliver(pullRequestPayload({ action: 'opened', number: 10, repository: REPO, headSha: sha(10), updatedAt: at(1) }));
    await h.drain();
    const env = await envOf(h, REPO, 10);
    expect(env.status).toBe('FAILED');
    expect(env.errorMessage).toMatch(/^web: (ImagePullBackOff|ErrImagePull) \(ghcr\.io\/acme\/missing:[0-9a-f]{40}\)/);
    const dep = await h.db.deployment.findFirstOrThrow({ where: { environmentId: env.id } });
    expect(dep.status).toBe('FAILED');
    expect(dep.errorMessage).toBe(env.errorMessage);
    // Logged once as it appeared, with the kubelet's events.
    expect(dep.logs).toMatch(/web: pod web-[a-z0-9-]+ container web: ImagePullBackOff/);
    expect(dep.logs).toMatch(/Pod web-[a-z0-9-]+: (Failed|BackOff): /);
    expect(await lastComment(h, REPO, 10)).toMatch(/Failed[\s\S]*(ImagePullBackOff|ErrImagePull) \(ghcr.io\/acme\/missing/);
    // Not a retry loop: the deploy ran once.
    expect(dep.logs!.match(/configuration: /g)).toHaveLength(1);
  });

  it('a crash loop fails naming its exit code; the end of its log goes to the deployment\'s logs, never to the comment', async () => {
    h.fakeGithub!.setFile(REPO, sha(11), '.ephemera.yml', single('ghcr.io/acme/crash:1'));
    await h.deliver(pullRequestPayload({ action: 'opened', number: 11, repository: REPO, headSha: sha(11), updatedAt: at(1) }));
    await h.drain();
    const env = await envOf(h, REPO, 11);
    expect(env.status).toBe('FAILED');
    expect(env.errorMessage).toMatch(/^web: CrashLoopBackOff \(exit code 1; \d+ restarts?\)$/);
    const dep = await h.db.deployment.findFirstOrThrow({ where: { environmentId: env.id } });
    expect(dep.logs).toMatch(/last log lines of web-[a-z0-9-]+\/web:\n[\s\S]*Error: Cannot find module '\/app\/server.js'/);
    // A public pull request's comment never carries an app's log lines (an app may print its secrets on crash).
    const comment = await lastComment(h, REPO, 11);
    expect(comment).toContain('web: CrashLoopBackOff (exit code 1');
    expect(comment).not.toContain('Cannot find module');
    expect(comment).not.toContain('starting server');
    expect(fake.requests.some((r) => r.verb === 'get' && r.resource === 'pods/log')).toBe(true);
  });

  it('a rollout past its progress deadline names its cause, a readiness probe that never passed, not the deadline', async () => {
    h.fakeGithub!.setFile(REPO, sha(12), '.ephemera.yml', single('ghcr.io/acme/slow:1', '    health: { path: /healthz }\n'));
    await h.deliver(pullRequestPayload({ action: 'opened', number: 12, repository: REPO, headSha: sha(12), updatedAt: at(1) }));
    await h.drain();
    const env = await envOf(h, REPO, 12);
    expect(env.status).toBe('FAILED');
    expect(env.errorMessage).toMatch(/^web: readiness probe failing: Readiness probe failed: /);
    // An app that runs but is never ready: the end of its log is kept, in the deployment's logs.
    const dep = await h.db.deployment.findFirstOrThrow({ where: { environmentId: env.id } });
    expect(dep.logs).toMatch(/last log lines of web-[a-z0-9-]+\/web:\n/);
    expect(dep.logs).toMatch(/ProgressDeadlineExceeded/);
  });

  it('a quota refusal is logged as it appears and named when the rollout times out', async () => {
    h.fakeGithub!.setFile(REPO, sha(19), '.ephemera.yml', single('ghcr.io/acme/quota:1'));
    await h.deliver(pullRequestPayload({ action: 'opened', number: 19, repository: REPO, headSha: sha(19), updatedAt: at(1) }));
    await h.drain();
    const env = await envOf(h, REPO, 19);
    expect(env.status).toBe('FAILED');
    expect(env.errorMessage).toMatch(/^web: FailedCreate: .*exceeded quota: ephemera-quota/);
    const dep = await h.db.deployment.findFirstOrThrow({ where: { environmentId: env.id } });
    expect(dep.logs).toMatch(/ReplicaSet web-[a-z0-9]+: FailedCreate: .*exceeded quota/);
  });

  it('no .ephemera.yml: FAILED naming the file and the commit, and the comment says how to add one; nothing is created', async () => {
    const before = fake.requests.length;
    await h.deliver(pullRequestPayload({ action: 'opened', number: 13, repository: REPO, headSha: sha(13), updatedAt: at(1) }));
    await h.drain();
    const env = await envOf(h, REPO, 13);
    expect(env.status).toBe('FAILED');
    expect(env.errorMessage).toMatch(new RegExp(`^No \\.ephemera\\.yml in ${REPO} at commit ${sha(13).slice(0, 7)}\\.`));
    expect(await lastComment(h, REPO, 13)).toMatch(/Add \.ephemera\.yml at the repository root[\s\S]*version: 1\nservices:\n {2}web:/);
    expect(fake.requests.slice(before).filter((r) => r.namespace === env.namespace || r.name === env.namespace)).toEqual([]);
    // Both names were looked for, once each: no retry loop.
    const reads = h.fakeGithub!.requests.filter((r) => r.path.startsWith(`/repos/${REPO}/contents/`) && r.path.match(/\.ephemera\.ya?ml$/));
    expect(reads.filter((r) => r.path.endsWith('.ephemera.yml')).length).toBeGreaterThanOrEqual(1);
    expect(await h.db.deployment.count({ where: { environmentId: env.id } })).toBe(1);
  });

  it('an invalid file: FAILED naming each problem\'s path and reason', async () => {
    h.fakeGithub!.setFile(REPO, sha(14), '.ephemera.yaml', 'version: 1\nservices:\n  web:\n    image: x:{{tag}}\n    port: 70000\n');
    await h.deliver(pullRequestPayload({ action: 'opened', number: 14, repository: REPO, headSha: sha(14), updatedAt: at(1) }));
    await h.drain();
    const env = await envOf(h, REPO, 14);
    expect(env.status).toBe('FAILED');
    expect(env.errorMessage).toMatch(new RegExp(`^\\.ephemera\\.yaml at ${sha(14).slice(0, 7)} is not valid:\\n- services\\.web\\.port: .*65535`));
  });

  it('transient API errors are retried; a refused verb fails with the API server\'s own message', async () => {
    h.fakeGithub!.setFile(REPO, sha(15), '.ephemera.yml', single('ghcr.io/acme/ok:1'));
    fake.failNext({ verb: 'patch', resource: 'deployments' }, 503, 2);
    fake.failNext({ verb: 'get', resource: 'deployments' }, 429, 1);
    await h.deliver(pullRequestPayload({ action: 'opened', number: 15, repository: REPO, headSha: sha(15), updatedAt: at(1) }));
    await h.drain();
    expect((await envOf(h, REPO, 15)).status).toBe('READY');

    fake.forbid('patch', 'ingresses', 'networking.k8s.io');
    h.fakeGithub!.setFile(REPO, sha(16), '.ephemera.yml', single('ghcr.io/acme/ok:2'));
    await h.deliver(pullRequestPayload({ action: 'synchronize', number: 15, repository: REPO, headSha: sha(16), updatedAt: at(2) }));
    await h.drain();
    const env = await envOf(h, REPO, 15);
    expect(env.status).toBe('FAILED');
    expect(env.errorMessage).toMatch(/^applying Ingress ephemera-preview failed: .*cannot patch resource "ingresses" in API group "networking.k8s.io".*\(HTTP 403\)$/);
    fake.allow('patch', 'ingresses', 'networking.k8s.io');
  });

  it('a newer push aborts the wait for the older one', async () => {
    h.fakeGithub!.setFile(REPO, sha(17), '.ephemera.yml', single('ghcr.io/acme/hang:1'));
    h.fakeGithub!.setFile(REPO, sha(18), '.ephemera.yml', single('ghcr.io/acme/ok:3'));
    await h.deliver(pullRequestPayload({ action: 'opened', number: 17, repository: REPO, headSha: sha(17), updatedAt: at(1) }));
    const env0 = await waitFor(() => h.db.environment.findFirst({ where: { repositoryFullName: REPO, prNumber: 17, status: 'PROVISIONING' } }));
    await waitFor(() => Promise.resolve(fake.get('apps/v1', 'Deployment', env0.namespace, 'web')));
    await h.deliver(pullRequestPayload({ action: 'synchronize', number: 17, repository: REPO, headSha: sha(18), updatedAt: at(2) }));
    await h.drain();
    const env = await envOf(h, REPO, 17);
    expect({ status: env.status, error: env.errorMessage }).toEqual({ status: 'READY', error: null });
    const deps = await h.db.deployment.findMany({ where: { environmentId: env.id }, orderBy: { id: 'asc' } });
    expect(deps.map((d) => [d.commitSha, d.status, d.errorMessage])).toEqual([
      [sha(17), 'FAILED', `superseded by ${sha(18).slice(0, 7)}`],
      [sha(18), 'SUCCESS', null],
    ]);
    expect(fake.get('apps/v1', 'Deployment', env.namespace, 'web').spec.template.spec.containers[0].image).toBe('ghcr.io/acme/ok:3');
  });
});

describe('Kubernetes provisioner: a teardown holds no provisioning slot', () => {
  const REPO = 'acme/slots';
  let fake: FakeKubernetes;
  let h: Harness;
  beforeAll(async () => {
    fake = await startFakeKubernetes({ terminatingMs: 20, controllerDelayMs: 10, secondMs: KUBE_SECOND_MS });
    // One job at a time, and a teardown allowed to take 50 (configured) minutes.
    h = await startHarness({ provisionerFor: provisionerFor(fake, { DESTROY_TIMEOUT_SECONDS: '3000' }), concurrency: 1 });
    for (const n of [40, 41]) h.fakeGithub!.setFile(REPO, sha(n), '.ephemera.yml', 'version: 1\nservices:\n  web:\n    image: nginx:1.27\n    port: 80\ntimeout_seconds: 600\n');
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
  });

  it('while a namespace stays Terminating, another preview deploys; the sweep finishes the teardown when it goes', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 40, repository: REPO, headSha: sha(40), updatedAt: at(1) }));
    await h.drain();
    const first = await envOf(h, REPO, 40);
    const hold = fake.holdTerminating(first.namespace);
    await h.deliver(pullRequestPayload({ action: 'closed', number: 40, repository: REPO, headSha: sha(40), updatedAt: at(2) }));
    await waitFor(async () => fake.get('v1', 'Namespace', undefined, first.namespace)?.metadata?.deletionTimestamp);
    await h.deliver(pullRequestPayload({ action: 'opened', number: 41, repository: REPO, headSha: sha(41), updatedAt: at(1) }));
    const second = await waitFor(() => h.db.environment.findFirst({ where: { repositoryFullName: REPO, prNumber: 41, status: 'READY' } }), 5_000);
    expect(second.status).toBe('READY');
    expect((await envOf(h, REPO, 40)).status).toBe('DESTROYING');

    hold.release();
    await h.drain();
    expect((await envOf(h, REPO, 40)).status).toBe('DESTROYED');
    const latest = await h.db.deployment.findFirstOrThrow({ where: { environmentId: first.id }, orderBy: { id: 'desc' } });
    expect(latest.logs).toMatch(/deletion requested[\s\S]*the teardown sweep follows it[\s\S]*namespace .* deleted/);
    // Each pass of the sweep is one labelled list of the installation's namespaces.
    const lists = fake.requests.filter((r) => r.verb === 'list' && r.resource === 'namespaces');
    expect(lists.length).toBeGreaterThanOrEqual(1);
    expect(await h.failedJobs()).toHaveLength(0);
  });
});

async function waitFor<T>(probe: () => Promise<T | null | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Kubernetes provisioner: forks and secrets', () => {
  const REPO = 'acme/forked';
  let fake: FakeKubernetes;
  let h: Harness;
  beforeAll(async () => {
    fake = await startFakeKubernetes({ terminatingMs: 50, controllerDelayMs: 10, secondMs: KUBE_SECOND_MS });
    fake.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'preview-secrets' } });
    fake.seed({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'preview-db', namespace: 'preview-secrets' },
      type: 'Opaque',
      data: { password: Buffer.from('hunter2').toString('base64') },
    });
    fake.seed({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'prod-db', namespace: 'preview-secrets' }, data: { password: 'eA==' } });
    fake.seed({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'wildcard-tls', namespace: 'preview-secrets' },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': Buffer.from('cert').toString('base64'), 'tls.key': Buffer.from('key').toString('base64') },
    });
    fake.seed({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'registry', namespace: 'preview-secrets' },
      type: 'kubernetes.io/dockerconfigjson',
      data: { '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') },
    });
    h = await startHarness({
      provisionerFor: provisionerFor(fake, {
        PREVIEW_TLS_SECRET: 'preview-secrets/wildcard-tls',
        PREVIEW_IMAGE_PULL_SECRET: 'preview-secrets/registry',
        PREVIEW_URL_SCHEME: 'https',
      }),
    });
    // Fork pull requests here are opened by someone with write access, so they deploy without a label.
    h.fakeGithub!.setPermission(REPO, 'maint', 'maintain');
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
  });

  it('a fork\'s preview is configured by the base commit, never by the fork', async () => {
    h.fakeGithub!.setFile(REPO, sha(100), '.ephemera.yml', 'version: 1\nservices:\n  web:\n    image: ghcr.io/acme/base-config:{{short_sha}}\n    port: 80\ntimeout_seconds: 600\n');
    h.fakeGithub!.setFile(REPO, sha(21), '.ephemera.yml', 'version: 1\nservices:\n  web:\n    image: evil/miner:latest\n    port: 80\n');
    await h.deliver(
      pullRequestPayload({ action: 'opened', number: 21, repository: REPO, fromFork: 'mallory/forked', sender: { login: 'maint' }, headSha: sha(21), baseSha: sha(100), updatedAt: at(1) }),
    );
    await h.drain();
    const env = await envOf(h, REPO, 21);
    expect(env).toMatchObject({ status: 'READY', errorMessage: null, fromFork: true, baseSha: sha(100) });
    // The fork's commit is what runs; how it runs is the base branch's decision.
    expect(fake.get('apps/v1', 'Deployment', env.namespace, 'web').spec.template.spec.containers[0].image).toBe(`ghcr.io/acme/base-config:${sha(21).slice(0, 7)}`);
    const reads = h.fakeGithub!.requests.filter((r) => r.path === `/repos/${REPO}/contents/.ephemera.yml`);
    expect(reads).toHaveLength(1);
    expect(h.fakeGithub!.requests.some((r) => r.path.includes('/contents/') && r.path.includes(sha(21)))).toBe(false);
  });

  it('secret_env copies allowed Secrets in; a fork\'s secret_env and a Secret not allowed are refused', async () => {
    const withSecret = (secret: string) =>
      `version: 1\nservices:\n  web:\n    image: ghcr.io/acme/app:1\n    port: 80\n    secret_env:\n      - { name: DB_PASSWORD, secret: ${secret}, key: password }\ntimeout_seconds: 600\n`;
    h.fakeGithub!.setFile(REPO, sha(22), '.ephemera.yml', withSecret('preview-db'));
    await h.deliver(pullRequestPayload({ action: 'opened', number: 22, repository: REPO, headSha: sha(22), updatedAt: at(1) }));
    await h.drain();
    const env = await envOf(h, REPO, 22);
    expect(env.errorMessage).toBeNull();
    expect(env.status).toBe('READY');
    const copy = fake.get('v1', 'Secret', env.namespace, 'preview-db');
    expect(Buffer.from(copy.data.password, 'base64').toString()).toBe('hunter2');
    expect(copy.metadata.labels['ephemera.dev/environment']).toBe(String(env.id));
    const pod = fake.get('apps/v1', 'Deployment', env.namespace, 'web').spec.template.spec;
    expect(pod.containers[0].env).toEqual([{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'preview-db', key: 'password' } } }]);
    // The pull secret and the wildcard certificate are copied in and used.
    expect(pod.imagePullSecrets).toEqual([{ name: 'registry' }]);
    expect(fake.get('v1', 'Secret', env.namespace, 'registry').type).toBe('kubernetes.io/dockerconfigjson');
    expect(fake.get('v1', 'Secret', env.namespace, 'wildcard-tls').type).toBe('kubernetes.io/tls');
    expect(fake.list('networking.k8s.io/v1', 'Ingress', env.namespace)[0].spec.tls).toEqual([{ hosts: [`${env.namespace}.preview.test`], secretName: 'wildcard-tls' }]);

    h.fakeGithub!.setFile(REPO, sha(23), '.ephemera.yml', withSecret('prod-db'));
    await h.deliver(pullRequestPayload({ action: 'opened', number: 23, repository: REPO, headSha: sha(23), updatedAt: at(1) }));
    h.fakeGithub!.setFile(REPO, sha(101), '.ephemera.yml', withSecret('preview-db'));
    await h.deliver(
      pullRequestPayload({ action: 'opened', number: 24, repository: REPO, fromFork: 'mallory/forked', sender: { login: 'maint' }, headSha: sha(24), baseSha: sha(101), updatedAt: at(1) }),
    );
    await h.drain();
    expect((await envOf(h, REPO, 23)).errorMessage).toMatch(/^secret_env names Secrets this installation does not share with previews: prod-db/);
    const fork = await envOf(h, REPO, 24);
    expect(fork.status).toBe('FAILED');
    expect(fork.errorMessage).toMatch(/^secret_env is refused for pull requests from forks: the fork's code would receive the secrets/);
    expect(fake.get('v1', 'Namespace', undefined, fork.namespace)).toBeUndefined();
  });
});

describe('Kubernetes provisioner: sweeps, teardown timeouts and the per-repository limit', () => {
  const REPO = 'acme/swept';
  let fake: FakeKubernetes;
  let h: Harness;
  beforeAll(async () => {
    fake = await startFakeKubernetes({ terminatingMs: 50, controllerDelayMs: 10, secondMs: KUBE_SECOND_MS });
    h = await startHarness({ provisionerFor: provisionerFor(fake, { DESTROY_TIMEOUT_SECONDS: '30' }) });
    for (const n of [30, 31, 32, 33]) h.fakeGithub!.setFile(REPO, sha(n), '.ephemera.yml', CONFIG);
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
  });
  afterEach(async () => {
    await h.drain();
  });

  it('deletes namespaces whose environment is gone or DESTROYED, and nothing of another installation', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 30, repository: REPO, headSha: sha(30), updatedAt: at(1) }));
    await h.drain();
    const live = await envOf(h, REPO, 30);
    const destroyed = await h.db.environment.create({
      data: { repositoryFullName: REPO, repositoryName: 'swept', prNumber: 99, branchName: 'b', commitSha: sha(99), namespace: 'pr-99-swept', installationId: 1n, status: 'DESTROYED' },
    });
    const labels = (id: number | string, instance = 'test') => ({ 'app.kubernetes.io/managed-by': 'ephemera', 'ephemera.dev/environment': String(id), 'ephemera.dev/instance': instance });
    fake.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'pr-99-swept', labels: labels(destroyed.id) } });
    fake.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'pr-1000-gone', labels: labels(987654) } });
    fake.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'pr-1001-theirs', labels: labels(987655, 'other') } });
    fake.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'unrelated' } });

    const result = await reconcileNamespaces(h.jobContext());
    expect(result).toBe('orphan namespaces deleted 2, environments redeployed 0');
    await new Promise((r) => setTimeout(r, 150));
    const names = fake.list('v1', 'Namespace').map((n) => n.metadata.name);
    expect(names).toEqual(expect.arrayContaining([live.namespace, 'pr-1001-theirs', 'unrelated']));
    expect(names).not.toContain('pr-99-swept');
    expect(names).not.toContain('pr-1000-gone');
    expect(await h.metrics.registry.getSingleMetricAsString('ephemera_orphan_namespaces_deleted_total')).toMatch(/ephemera_orphan_namespaces_deleted_total 2/);
    // Listing asked only for this installation's namespaces.
    expect(fake.requests.filter((r) => r.verb === 'list' && r.resource === 'namespaces').length).toBeGreaterThan(0);
  });

  it('deploys a READY environment again when its namespace vanished', async () => {
    const env = await envOf(h, REPO, 30);
    fake.removeNamespaceNow(env.namespace);
    // Not for an account outside ALLOWED_ACCOUNTS.
    expect(await reconcileNamespaces({ ...h.jobContext(), accounts: AccountAllowList.of(['someone-else']) })).toBe('orphan namespaces deleted 0, environments redeployed 0');
    expect(await reconcileNamespaces(h.jobContext())).toBe('orphan namespaces deleted 0, environments redeployed 1');
    await h.drain();
    expect((await envOf(h, REPO, 30)).status).toBe('READY');
    expect(fake.get('apps/v1', 'Deployment', env.namespace, 'web')).toBeDefined();
    expect(await h.metrics.registry.getSingleMetricAsString('ephemera_environments_redeployed_total')).toMatch(/ephemera_environments_redeployed_total 1/);
    expect((await commentBodies(h, REPO, 30)).some((b) => b.includes("The preview's namespace disappeared from the cluster, so it is being deployed again."))).toBe(true);
  });

  it('a namespace stuck Terminating fails the teardown with its conditions; the sweep tries again', async () => {
    const env = await envOf(h, REPO, 30);
    const hold = fake.holdTerminating(env.namespace);
    await h.deliver(pullRequestPayload({ action: 'closed', number: 30, repository: REPO, headSha: sha(30), updatedAt: at(5) }));
    await h.drain();
    const failed = await envOf(h, REPO, 30);
    expect(failed.status).toBe('FAILED');
    expect(failed.errorMessage).toMatch(/^destroy failed: namespace .* is still Terminating after 30 s: NamespaceDeletionDiscoveryFailure: Discovery failed for some groups/);
    expect(failed.destroyRequestedAt).toBeInstanceOf(Date);

    hold.release();
    expect(await mendStuck(h.jobContext())).toBe('retried 0, failed 0, destroys retried 1, waiting started 0');
    await h.drain();
    const gone = await envOf(h, REPO, 30);
    expect(gone).toMatchObject({ status: 'DESTROYED', destroyRequestedAt: null });
    expect(fake.get('v1', 'Namespace', undefined, env.namespace)).toBeUndefined();
  });
});

describe('Kubernetes provisioner: MAX_ENVIRONMENTS_PER_REPO', () => {
  const REPO = 'acme/limited';
  let fake: FakeKubernetes;
  let h: Harness;
  beforeAll(async () => {
    fake = await startFakeKubernetes({ terminatingMs: 30, controllerDelayMs: 10, secondMs: KUBE_SECOND_MS });
    h = await startHarness({ provisionerFor: provisionerFor(fake), maxEnvironmentsPerRepo: 1 });
    for (const n of [40, 41, 42]) h.fakeGithub!.setFile(REPO, sha(n), '.ephemera.yml', CONFIG);
    h.fakeGithub!.setFile('acme/other', sha(43), '.ephemera.yml', CONFIG);
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
  });

  it('holds a pull request over the limit with a comment, and starts the oldest waiting when a place frees', async () => {
    await h.deliver(pullRequestPayload({ action: 'opened', number: 40, repository: REPO, headSha: sha(40), updatedAt: at(1) }));
    await h.drain();
    await h.deliver(pullRequestPayload({ action: 'opened', number: 41, repository: REPO, headSha: sha(41), updatedAt: at(2) }));
    await h.drain();
    await h.deliver(pullRequestPayload({ action: 'opened', number: 42, repository: REPO, headSha: sha(42), updatedAt: at(3) }));
    await h.deliver(pullRequestPayload({ action: 'opened', number: 43, repository: 'acme/other', headSha: sha(43), updatedAt: at(3) }));
    await h.drain();
    expect((await envOf(h, REPO, 40)).status).toBe('READY');
    // Another repository has its own places.
    expect((await envOf(h, 'acme/other', 43)).status).toBe('READY');
    for (const pr of [41, 42]) {
      const waiting = await envOf(h, REPO, pr);
      expect(waiting).toMatchObject({ status: 'PENDING' });
      expect(waiting.waitingSince).toBeInstanceOf(Date);
      expect(fake.get('v1', 'Namespace', undefined, waiting.namespace)).toBeUndefined();
    }
    expect((await commentBodies(h, REPO, 41)).some((b) => /already has 1 preview, the most this installation runs at once \(MAX_ENVIRONMENTS_PER_REPO\)/.test(b))).toBe(true);
    expect((await commentBodies(h, REPO, 42)).some((b) => b.includes('(1 waiting ahead of it)'))).toBe(true);
    expect(await lastComment(h, REPO, 42)).toMatch(/\*\*Status:\*\* ⏳ Waiting for a place/);

    // A deploy job that runs while the environment waits (queued by hand here) starts nothing and blocks nothing.
    const w41 = await envOf(h, REPO, 41);
    const d41 = await h.db.deployment.findFirstOrThrow({ where: { environmentId: w41.id } });
    await h.runtimes[0]!.followUps.deploy({ environmentId: w41.id, deploymentId: d41.id });
    await h.drain();
    expect(await (await h.queues.provisioning.getJob(`deploy-${d41.id}`))?.returnvalue).toBe('skipped: waiting for room in the repository');
    expect((await envOf(h, REPO, 41)).status).toBe('PENDING');

    await h.deliver(pullRequestPayload({ action: 'closed', number: 40, repository: REPO, headSha: sha(40), updatedAt: at(4) }));
    await h.drain();
    expect((await envOf(h, REPO, 40)).status).toBe('DESTROYED');
    expect(await envOf(h, REPO, 41)).toMatchObject({ status: 'READY', waitingSince: null });
    expect(await lastComment(h, REPO, 41)).toMatch(/\*\*Status:\*\* ✅ Ready/);
    expect((await envOf(h, REPO, 42)).status).toBe('PENDING');

    // Closing a waiting one frees nothing and leaves no namespace behind.
    await h.deliver(pullRequestPayload({ action: 'closed', number: 42, repository: REPO, headSha: sha(42), updatedAt: at(5) }));
    await h.drain();
    expect(await envOf(h, REPO, 42)).toMatchObject({ status: 'DESTROYED', waitingSince: null });
    expect((await envOf(h, REPO, 41)).status).toBe('READY');
  });
});
