import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Queue } from 'bullmq';
import { ENVIRONMENT_ACTIONS, QUEUES } from '@ephemera/schema';
import { freePort, pullRequestPayload, startFakeKubernetes } from '@ephemera/testkit';
import { at, sha, startHarness, type Harness } from './harness.js';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

/** The real worker entry point in a process of its own, as it runs in production. */
function startWorkerProcess(h: Harness, port: number, extra: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: h.databaseUrl,
      REDIS_URL: h.redisUrl,
      QUEUE_PREFIX: h.prefix,
      QUEUE_SIGNING_KEY: h.signingKey,
      WORKER_PORT: String(port),
      WORKER_LOCK_MS: '2000',
      PROVISIONER_DELAY_MS: '1500',
      PREVIEW_BASE_DOMAIN: 'preview.test',
      LOG_LEVEL: 'warn',
      ...extra,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the worker process', () => {
  let h: Harness;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    h = await startHarness({ noRuntime: true, github: false });
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await h.close();
  });

  it('killed with SIGKILL mid-deployment: another worker picks the job up and the environment ends READY', async () => {
    const port = await freePort();
    const first = startWorkerProcess(h, port);
    children.push(first);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, 20_000, 'first worker');
    await h.deliver(pullRequestPayload({ action: 'opened', number: 1, headSha: sha(1), updatedAt: at(1) }));
    await waitFor(async () => (await h.db.deployment.findFirst())?.status === 'IN_PROGRESS', 20_000, 'deployment to start');
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    expect((await h.db.deployment.findFirstOrThrow()).status).toBe('IN_PROGRESS');

    const secondPort = await freePort();
    const second = startWorkerProcess(h, secondPort);
    children.push(second);
    await waitFor(async () => (await h.db.environment.findFirst())?.status === 'READY', 40_000, 'environment READY');
    const dep = await h.db.deployment.findFirstOrThrow();
    expect(dep.status).toBe('SUCCESS');
    expect(await h.failedJobs()).toHaveLength(0);

    // Operations endpoints of the running process.
    expect(await (await fetch(`http://127.0.0.1:${secondPort}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`http://127.0.0.1:${secondPort}/readyz`)).json()).toMatchObject({ database: 'ok', redis: 'ok' });
    const metrics = await (await fetch(`http://127.0.0.1:${secondPort}/metrics`)).text();
    expect(metrics).toMatch(/worker_jobs_total\{queue="ephemera-provisioning",name="provisioning.deploy",outcome="completed"\} 1/);
    expect(metrics).toMatch(/worker_job_duration_seconds_bucket/);
    expect(metrics).toMatch(/worker_queue_depth\{queue="ephemera-webhooks",state="waiting"\} 0/);

    // SIGTERM: finishes and exits 0.
    second.kill('SIGTERM');
    const code = await new Promise((r) => second.once('exit', r));
    expect(code).toBe(0);
  }, 90_000);

  it('refuses to start with a clear message when configuration is wrong', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      env: { PATH: process.env.PATH, DATABASE_URL: 'not a url', GITHUB_APP_ID: '5' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise((r) => child.once('exit', r));
    expect(code).toBe(1);
    expect(err).toMatch(/DATABASE_URL/);
  });

  it('in production: refuses to start without ALLOWED_ACCOUNTS, starts with * (every account, on purpose)', async () => {
    const refused = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      env: { PATH: process.env.PATH, DATABASE_URL: h.databaseUrl, REDIS_URL: h.redisUrl, QUEUE_PREFIX: h.prefix, QUEUE_SIGNING_KEY: h.signingKey, NODE_ENV: 'production' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    refused.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    expect(await new Promise((r) => refused.once('exit', r))).toBe(1);
    expect(err).toMatch(/ALLOWED_ACCOUNTS is not set: in production set it to the GitHub accounts/);

    const port = await freePort();
    const worker = startWorkerProcess(h, port, { NODE_ENV: 'production', ALLOWED_ACCOUNTS: '*' });
    children.push(worker);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, 20_000, 'the worker with ALLOWED_ACCOUNTS=*');
    worker.kill('SIGTERM');
    expect(await new Promise((r) => worker.once('exit', r))).toBe(0);
  }, 60_000);

  it('refuses a job written to Redis without a signature, and counts it on /metrics', async () => {
    const port = await freePort();
    const worker = startWorkerProcess(h, port);
    children.push(worker);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, 20_000, 'the worker');
    const byHand = new Queue(QUEUES.actions, { connection: { url: h.redisUrl }, prefix: h.prefix });
    try {
      const requestId = randomUUID();
      await byHand.add(ENVIRONMENT_ACTIONS.destroy, { requestId, environmentId: 1, requestedBy: { kind: 'operator', login: 'x' }, requestedAt: new Date().toISOString() }, { jobId: requestId, attempts: 8 });
      await waitFor(async () => (await (await byHand.getJob(requestId))?.getState()) === 'failed', 20_000, 'the job to be refused');
      expect((await byHand.getJob(requestId))!.failedReason).toBe('refused: missing signature');
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/^ephemera_jobs_rejected_total\{reason="missing",queue="ephemera-actions"\} 1$/m);
    } finally {
      await byHand.close();
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    }
  }, 60_000);

  it('with PROVISIONER=kubernetes, stops at start naming what the cluster refuses, or the credentials it lacks', async () => {
    const fake = await startFakeKubernetes();
    const dir = mkdtempSync(path.join(tmpdir(), 'ephemera-kube-'));
    try {
      fake.forbid('delete', 'namespaces');
      fake.forbid('create', 'rolebindings', 'rbac.authorization.k8s.io');
      const kube = { PROVISIONER: 'kubernetes', KUBECONFIG: fake.writeKubeconfig(dir) };
      const run = async (extra: Record<string, string>) => {
        const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
          env: { PATH: process.env.PATH, DATABASE_URL: h.databaseUrl, REDIS_URL: h.redisUrl, QUEUE_PREFIX: h.prefix, QUEUE_SIGNING_KEY: h.signingKey, WORKER_PORT: String(await freePort()), ...extra },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
        child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
        const code = await new Promise((r) => child.once('exit', r));
        return { code, out };
      };
      const refused = await run({ ...kube, GITHUB_APP_ID: '42', GITHUB_APP_PRIVATE_KEY: h.pem });
      expect(refused.code).toBe(1);
      expect(refused.out).toMatch(/cannot start the kubernetes provisioner: the Kubernetes API at http:\/\/127\.0\.0\.1:\d+ refuses system:serviceaccount:ephemera:worker what the provisioner needs: create rolebindings\.rbac\.authorization\.k8s\.io, delete namespaces;/);
      const noApp = await run(kube);
      expect(noApp.code).toBe(1);
      expect(noApp.out).toMatch(/PROVISIONER=kubernetes reads each repository's \.ephemera\.yml with the GitHub App: set GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY/);
    } finally {
      await fake.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
