import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pullRequestPayload, startFakeKubernetes, type FakeKubernetes, type RolloutScript } from '@ephemera/testkit';
import { at, sha, startHarness, type Harness } from './harness.js';
import { KUBE_SECOND_MS, kubeProvisionerFor } from './kube-provisioner.js';

// Rollouts as a cluster runs them: the fake API server's controllers follow the real ones' rules (rolling updates by
// maxSurge/maxUnavailable, the progress deadline on the same clock as the worker, the kubelet's back-offs), and each
// image names what its pods go through.

const REPO = 'acme/rollouts';
const dirs: string[] = [];
let fake: FakeKubernetes;
let h: Harness;

/** Each image's script: `ghcr.io/acme/<name>:<tag>`. */
const SCRIPTS: Record<string, RolloutScript> = {
  crash: { crash: { exitCode: 3, log: 'connecting to postgres://app:hunter2@db:5432/app\nError: connection refused' } },
  flaky: { crash: { exitCode: 1, untilRestarts: 2 } },
  oom: 'OOMKilled',
  unknown: { pullError: 'manifest unknown' },
  late: { pullableAfterSeconds: 15 },
  // A fix whose readiness takes a while: the old crash-looping pod is there the whole time.
  fix: { readiness: { passAfterSeconds: 30 } },
  slow: { readiness: { passAfterSeconds: 40 } },
};

beforeAll(async () => {
  fake = await startFakeKubernetes({
    terminatingMs: 30,
    controllerDelayMs: 5,
    secondMs: KUBE_SECOND_MS,
    rollout: ({ images }) => SCRIPTS[/ghcr\.io\/acme\/([a-z]+):/.exec(images[0] ?? '')?.[1] ?? ''] ?? 'success',
  });
  h = await startHarness({ provisionerFor: kubeProvisionerFor(fake, {}, dirs), publicUrl: 'https://ephemera.example' });
});
afterAll(async () => {
  await h.close();
  await fake.close();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

const service = (image: string, extra = '') => `version: 1\nservices:\n  web:\n    image: ${image}\n    port: 8080\n${extra}timeout_seconds: 120\n`;

async function deploy(pr: number, n: number, config: string, action: 'opened' | 'synchronize' = 'opened') {
  h.fakeGithub!.setFile(REPO, sha(n), '.ephemera.yml', config);
  await h.deliver(pullRequestPayload({ action, number: pr, repository: REPO, headSha: sha(n), updatedAt: at(n) }));
  await h.drain();
  const env = await h.db.environment.findFirstOrThrow({ where: { repositoryFullName: REPO, prNumber: pr } });
  const dep = await h.db.deployment.findFirstOrThrow({ where: { environmentId: env.id }, orderBy: { id: 'desc' } });
  return { env, dep };
}

function comment(pr: number): string {
  return h.fakeGithub!.commentsOf(REPO, pr).at(-1)?.body ?? '';
}

describe('rollouts judged as a cluster behaves', () => {
  it('a fix pushed over a crash-looping commit (replicas: 1) is READY: the old pod, kept until the new one is available, is not judged', async () => {
    const failed = await deploy(1, 1, service('ghcr.io/acme/crash:1'));
    expect(failed.env.status).toBe('FAILED');
    // The controller keeps the crash-looping pod while the fix rolls out; watch what it does meanwhile.
    const seen: string[] = [];
    const spy = setInterval(() => {
      for (const p of fake.list('v1', 'Pod', failed.env.namespace)) seen.push(`${p.metadata.labels['pod-template-hash']}:${p.status?.containerStatuses?.[0]?.state?.waiting?.reason ?? 'ok'}`);
    }, 5);
    const fixed = await deploy(1, 2, service('ghcr.io/acme/fix:2', '    health: { path: /healthz }\n'), 'synchronize');
    clearInterval(spy);
    expect({ status: fixed.env.status, error: fixed.env.errorMessage }).toEqual({ status: 'READY', error: null });
    expect(seen.some((s) => s.endsWith(':CrashLoopBackOff'))).toBe(true);
    expect(fake.list('v1', 'Pod', fixed.env.namespace)).toHaveLength(1);
  });

  it('an app that exits while its database starts gets its restarts, then is READY', async () => {
    const { env, dep } = await deploy(2, 3, service('ghcr.io/acme/flaky:1'));
    expect({ status: env.status, error: env.errorMessage }).toEqual({ status: 'READY', error: null });
    // The crash loop is in the logs: as the judge saw the pod, or, when the pod was up again before the watch
    // caught it waiting (a busy machine), as the kubelet's BackOff event.
    expect(dep.logs).toMatch(/CrashLoopBackOff \(exit code 1; [12] restarts?\)|BackOff: Back-off restarting failed container web /);
  });

  it('a crash loop fails once the container restarted PREVIEW_CRASH_RESTARTS times; what it printed stays out of the comment', async () => {
    const { env, dep } = await deploy(3, 4, service('ghcr.io/acme/crash:4'));
    expect(env.status).toBe('FAILED');
    expect(env.errorMessage).toMatch(/^web: CrashLoopBackOff \(exit code 3; [3-9] restarts\)$/);
    expect(dep.logs).toContain('postgres://app:hunter2@db:5432/app');
    expect(comment(3)).toContain('web: CrashLoopBackOff (exit code 3');
    expect(comment(3)).not.toContain('hunter2');
    // The log is behind the dashboard's access rules; the comment links to it.
    expect(comment(3)).toContain(`**Deployment logs:** https://ephemera.example/environments/${env.id}/deployments/${dep.id}`);
  });

  it('an OOM kill is named with the memory limit', async () => {
    const { env } = await deploy(4, 5, service('ghcr.io/acme/oom:1', '    resources: { memory: 128Mi }\n'));
    expect(env.status).toBe('FAILED');
    expect(env.errorMessage).toBe('web: OOMKilled (limit 128Mi)');
  });

  it('an image that never comes is named with the kubelet\'s words, not the progress deadline that ended the wait', async () => {
    const { env, dep } = await deploy(5, 6, service('ghcr.io/acme/unknown:1'));
    expect(env.status).toBe('FAILED');
    expect(env.errorMessage).toMatch(/^web: (ImagePullBackOff|ErrImagePull) \(ghcr\.io\/acme\/unknown:1\): .*manifest unknown/);
    expect(env.errorMessage).not.toMatch(/ProgressDeadlineExceeded/);
    expect(dep.logs).toMatch(/ProgressDeadlineExceeded/);
  });

  it('an image CI pushes late is picked up at the kubelet\'s next pull, and the preview is READY', async () => {
    const { env, dep } = await deploy(6, 7, service('ghcr.io/acme/late:1'));
    expect({ status: env.status, error: env.errorMessage }).toEqual({ status: 'READY', error: null });
    expect(dep.logs).toMatch(/ErrImagePull|ImagePullBackOff/);
  });

  it('watches the rollout: a watch that ends is resumed, a resourceVersion the server no longer has (410 Gone) is listed again', async () => {
    h.fakeGithub!.setFile(REPO, sha(8), '.ephemera.yml', service('ghcr.io/acme/slow:1', '    health: { path: /healthz }\n'));
    await h.deliver(pullRequestPayload({ action: 'opened', number: 7, repository: REPO, headSha: sha(8), updatedAt: at(8) }));
    const namespace = await (async () => {
      for (;;) {
        const env = await h.db.environment.findFirst({ where: { repositoryFullName: REPO, prNumber: 7 } });
        if (env && fake.requests.some((r) => r.verb === 'watch' && r.namespace === env.namespace && r.resource === 'pods')) return env.namespace;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const lists = (resource: string) => fake.requests.filter((r) => r.verb === 'list' && r.namespace === namespace && r.resource === resource).length;
    const before = { pods: lists('pods'), replicasets: lists('replicasets') };
    fake.expireWatches();
    await h.drain();
    const env = await h.db.environment.findFirstOrThrow({ where: { repositoryFullName: REPO, prNumber: 7 } });
    expect({ status: env.status, error: env.errorMessage }).toEqual({ status: 'READY', error: null });
    // Each kind was listed again after its resume was refused, and watched again from the new list.
    expect(lists('pods')).toBe(before.pods + 1);
    expect(lists('replicasets')).toBe(before.replicasets + 1);
    expect(fake.requests.filter((r) => r.verb === 'watch' && r.namespace === namespace && r.resource === 'pods').length).toBeGreaterThanOrEqual(3);
  });
});
