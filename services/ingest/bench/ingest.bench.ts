// pnpm bench:ingest — ingest against a bare express endpoint, same request, same machine, same load.
//
// 20 connections for ~10 s each. Every request is GitHub's real `pull_request.synchronize` example, signed;
// each carries a fresh X-GitHub-Delivery so every one is verified, trimmed and stored as a new job (a
// repeated id would be answered "duplicate" without touching the queue).
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUES } from '@ephemera/schema';
import { freePort, runBench, runLoad, signedDelivery, startRedis, waitForReady, webhookExample, type LoadFigures } from '@ephemera/testkit';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = 20;
const SECRET = 'bench-secret';
const PATH = '/api/v1/webhooks/github';

type Figures = LoadFigures & { name: string };

async function load(name: string, port: number, body: string, headers: Record<string, string>, durationSeconds = DURATION_S): Promise<Figures> {
  // Each run in a fresh load-generator process (see runLoad), with a new delivery id on every request.
  const r = await runLoad({
    origin: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    durationSeconds,
    method: 'POST',
    paths: [PATH],
    headers,
    body,
    uniqueHeader: 'x-github-delivery',
  });
  return { name, ...r };
}

async function main(): Promise<number> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'ephemera-bench-'));
  const redisServer = process.env.REDIS_URL
    ? undefined
    : await startRedis({ dir: scratch, port: await freePort(), durable: true });
  const redisUrl = process.env.REDIS_URL ?? redisServer!.url;
  const prefix = `bench-${randomUUID().slice(0, 8)}`;

  const payload = webhookExample('pull_request', 'synchronize', { withInstallation: true });
  const delivery = await signedDelivery(SECRET, 'pull_request', payload);
  const { ['x-github-delivery']: _, ...headers } = delivery.headers;

  const barePort = await freePort();
  const bare = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./bare-server.ts', import.meta.url))], {
    env: { ...process.env, PORT: String(barePort) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });

  const ingestPort = await freePort();
  const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
  const ingest = spawn(process.execPath, [main], {
    env: {
      ...process.env,
      GITHUB_WEBHOOK_SECRET: SECRET,
      QUEUE_SIGNING_KEY: randomBytes(32).toString('hex'),
      INGEST_PORT: String(ingestPort),
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: prefix,
      // Production settings: one info line per delivery, written where a log collector would read it.
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const redis = new Redis(redisUrl);
  try {
    await waitForReady(ingestPort, ingest, { name: 'ingest' });
    await waitForReady(barePort, bare, { name: 'bare express' });
    process.stdout.write(
      `body ${delivery.body.length} bytes, ${CONNECTIONS} connections, ${DURATION_S} s per target, Redis ${redisUrl}\n`,
    );
    // A short warm-up of each, so neither pays for JIT and connection set-up in its figures. Ingest's warm-up
    // jobs are removed before the measurement so that the count of stored jobs checks only measured deliveries.
    await load('warm-up', barePort, delivery.body, headers, 3);
    await load('warm-up', ingestPort, delivery.body, headers, 3);
    const warmed = new Queue(QUEUES.webhooks, { connection: redis, prefix });
    await warmed.obliterate({ force: true });
    await warmed.close();
    const bareFigures = await load('bare express 202', barePort, delivery.body, headers);
    const ingestFigures = await load('ingest', ingestPort, delivery.body, headers);

    const queue = new Queue(QUEUES.webhooks, { connection: redis, prefix });
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized');
    const stored = Object.values(counts).reduce((a, b) => a + b, 0);
    await queue.obliterate({ force: true });
    await queue.close();

    const ratio = ingestFigures.rps / bareFigures.rps;
    const row = (f: Figures) =>
      `${f.name.padEnd(18)} ${f.rps.toFixed(0).padStart(8)} ${`${f.p50} ms`.padStart(8)} ${`${f.p99} ms`.padStart(8)} ${String(f.ok).padStart(8)} ${String(f.other).padStart(6)}`;
    process.stdout.write(`\n${'target'.padEnd(18)} ${'req/s'.padStart(8)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'2xx'.padStart(8)} ${'other'.padStart(6)}\n`);
    process.stdout.write(`${row(bareFigures)}\n${row(ingestFigures)}\n`);
    process.stdout.write(`\nratio ingest/bare: ${ratio.toFixed(2)} (target ≥ 0.50); ingest p99 ${ingestFigures.p99} ms (target < 25 ms)\n`);
    process.stdout.write(`jobs stored: ${stored} for ${ingestFigures.ok} accepted deliveries\n`);
    // Requests still in flight when the clock stops are stored but not counted as answered.
    const noLoss = stored >= ingestFigures.ok && stored <= ingestFigures.ok + CONNECTIONS;
    const pass = ratio >= 0.5 && ingestFigures.p99 < 25 && noLoss && ingestFigures.other === 0;
    process.stdout.write(`${pass ? 'PASS' : 'FAIL'}\n`);
    const result = [
      { bench: 'ingest', measure: 'pull_request.synchronize, 20 conn', rps: ingestFigures.rps, p99: ingestFigures.p99, baseline: bareFigures.rps, ratio, target: 'ratio ≥ 0.50, p99 < 25 ms', pass },
    ];
    process.stdout.write(`bench-result ${JSON.stringify(result)}\n`);
    return pass ? 0 : 1;
  } finally {
    ingest.kill('SIGTERM');
    bare.kill('SIGTERM');
    redis.disconnect();
    await redisServer?.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

runBench(main);
