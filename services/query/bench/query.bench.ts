// pnpm bench:query — seeds 100,000 environments and 500,000 deployments, then measures the query service
// (autocannon, 20 connections) on three reads, each against a bare express endpoint returning a fixed JSON
// body of the same size, in the same run.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Migrator, defaultPrismaDir } from '@ephemera/db/migrate';
import { freePort, runBench, runLoad, startPostgres, startRedis, waitForReady } from '@ephemera/testkit';

const ENVIRONMENTS = Number(process.env.BENCH_ENVIRONMENTS ?? 100_000);
const DEPLOYMENTS = ENVIRONMENTS * 5;
const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);

function load(port: number, paths: string[]) {
  return runLoad({ origin: `http://127.0.0.1:${port}`, connections: 20, durationSeconds: DURATION_S, paths });
}

async function main(): Promise<number> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'ephemera-bench-query-'));
  await chmod(scratch, 0o755);
  const pgServer = process.env.DATABASE_URL ? undefined : await startPostgres({ dir: path.join(scratch, 'pg'), port: await freePort(), database: 'postgres' });
  const redisServer = process.env.REDIS_URL ? undefined : await startRedis({ dir: path.join(scratch, 'redis'), port: await freePort(), durable: false });
  const serverUrl = process.env.DATABASE_URL ?? pgServer!.url;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  const dbName = `bench_query_${Date.now()}`;
  await admin.query(`CREATE DATABASE ${dbName}`);
  // The service reaches the PostgreSQL the bench runs here through its unix socket, as a same-host
  // database is normally reached (loopback TCP costs the client a third of its CPU in socket writes).
  const dbUrl = pgServer
    ? `postgresql://postgres@localhost:${pgServer.port}/${dbName}?host=${encodeURIComponent(path.join(scratch, 'pg'))}`
    : Object.assign(new URL(serverUrl), { pathname: `/${dbName}` }).toString();
  await new Migrator({ databaseUrl: dbUrl, prismaDir: defaultPrismaDir() }).migrate();

  const seeded = Date.now();
  const db = new pg.Client({ connectionString: dbUrl });
  await db.connect();
  await db.query(`INSERT INTO users (github_id, github_login) SELECT g, 'user' || g FROM generate_series(1, 1000) g`);
  // 70% destroyed (history), the rest spread over the live statuses; 200 repositories of 500 PRs each.
  await db.query(
    `INSERT INTO environments (repository_full_name, repository_name, pr_number, pr_title, branch_name, commit_sha, namespace,
                               environment_url, status, installation_id, owner_id, last_deployed_at, created_at, updated_at)
     SELECT 'org' || (g % 50) || '/repo' || (g % 200), 'repo' || (g % 200), g, 'Change number ' || g, 'feature/' || g,
            md5(g::text) || 'abcdef01', 'pr-' || g || '-repo' || (g % 200) || '-' || left(md5(g::text), 10),
            'https://pr-' || g || '.preview.example.com',
            (CASE WHEN g % 10 < 7 THEN 'DESTROYED' ELSE (ARRAY['PENDING','PROVISIONING','READY','UPDATING','DESTROYING','FAILED'])[1 + g % 6] END)::environment_status,
            3000000000 + (g % 7), 1 + (g % 1000), now() - (g || ' minutes')::interval, now() - (g || ' minutes')::interval, now()
       FROM generate_series(1, $1::int) g`,
    [ENVIRONMENTS],
  );
  await db.query(
    `INSERT INTO deployments (environment_id, commit_sha, commit_message, status, started_at, completed_at, created_at, updated_at)
     SELECT 1 + (g % $2::int), md5(g::text) || 'abcdef01', 'commit ' || g, 'SUCCESS', now(), now(), now() - (g || ' seconds')::interval, now()
       FROM generate_series(1, $1::int) g`,
    [DEPLOYMENTS, ENVIRONMENTS],
  );
  // As a database in service is: vacuumed (visibility map and hint bits set) and analysed. Without it,
  // autovacuum starts on the freshly inserted 600,000 rows in the middle of the measurements. The checkpoint
  // writes the seeding's pages out now; otherwise the checkpointer spreads those writes (and the kernel its
  // flushes) over the next minutes, right through the measurements.
  await db.query('VACUUM ANALYZE');
  await db.query('CHECKPOINT');
  const { rows: sample } = await db.query<{ namespace: string }>(`SELECT namespace FROM environments ORDER BY random() LIMIT 1000`);
  await db.end();
  process.stdout.write(`seeded ${ENVIRONMENTS} environments and ${DEPLOYMENTS} deployments in ${((Date.now() - seeded) / 1000).toFixed(1)} s\n`);

  const queryPort = await freePort();
  const query = spawn(process.execPath, [fileURLToPath(new URL('../dist/main.js', import.meta.url))], {
    // The API open on purpose (the reads are measured without a token), whatever API_TOKENS the shell has.
    env: { ...process.env, DATABASE_URL: dbUrl, REDIS_URL: process.env.REDIS_URL ?? redisServer!.url, QUERY_PORT: String(queryPort), LOG_LEVEL: 'error', NODE_ENV: 'development', API_TOKENS: '', API_AUTH: 'none' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const children: ChildProcess[] = [query];
  try {
    await waitForReady(queryPort, query, { name: 'query', attempts: 150 });
    const targets: Array<[string, string[]]> = [
      ['active_only list', ['/api/v1/environments?active_only=true&limit=50']],
      ['repository list', Array.from({ length: 200 }, (_, i) => `/api/v1/environments?repository=org${i % 50}/repo${i}&limit=50`)],
      ['by namespace', sample.map((s) => `/api/v1/environments/namespace/${s.namespace}`)],
    ];
    process.stdout.write(`\n${'read'.padEnd(18)} ${'query req/s'.padStart(11)} ${'p99'.padStart(7)} ${'bare req/s'.padStart(11)} ${'p99'.padStart(7)} ${'ratio'.padStart(6)}  bytes\n`);
    let pass = true;
    const results: Array<Record<string, unknown>> = [];
    for (const [name, paths] of targets) {
      const sampleBody = await (await fetch(`http://127.0.0.1:${queryPort}${paths[0]}`)).text();
      const barePort = await freePort();
      const bare = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./bare-server.ts', import.meta.url))], {
        env: { ...process.env, PORT: String(barePort), BODY: sampleBody },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push(bare);
      await waitForReady(barePort, bare, { name: 'bare express', attempts: 150 });
      // Warm-up over the same paths as the measurement, so both are served from a warm cache.
      await load(queryPort, paths);
      const q = await load(queryPort, paths);
      const b = await load(barePort, ['/fixed']);
      bare.kill('SIGTERM');
      const ok = q.p99 < 20 && q.other === 0;
      pass &&= ok;
      results.push({ bench: 'query', measure: name, rps: q.rps, p99: q.p99, baseline: b.rps, ratio: q.rps / b.rps, target: 'p99 < 20 ms', pass: ok });
      process.stdout.write(
        `${name.padEnd(18)} ${q.rps.toFixed(0).padStart(11)} ${`${q.p99} ms`.padStart(7)} ${b.rps.toFixed(0).padStart(11)} ${`${b.p99} ms`.padStart(7)} ${(q.rps / b.rps).toFixed(2).padStart(6)}  ${sampleBody.length}${ok ? '' : '  (target: p99 < 20 ms, all 2xx)'}\n`,
      );
    }
    process.stdout.write(`\n${pass ? 'PASS' : 'FAIL'}: p99 under 20 ms for every read\n`);
    process.stdout.write(`bench-result ${JSON.stringify(results)}\n`);
    return pass ? 0 : 1;
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await admin.query(`DROP DATABASE ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
    await pgServer?.stop();
    await redisServer?.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

runBench(main);
