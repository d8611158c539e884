#!/usr/bin/env node
// `pnpm bench`: runs every benchmark (ingest, worker, query), shows their own output, and ends with one table.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const rows = [];
let failed = false;
for (const name of ['ingest', 'worker', 'query']) {
  process.stdout.write(`\n=== bench:${name}\n`);
  const code = await new Promise((resolve) => {
    const child = spawn('pnpm', [`bench:${name}`], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      process.stdout.write(c);
    });
    child.on('exit', (c) => {
      const line = out.split('\n').find((l) => l.startsWith('bench-result '));
      if (line) rows.push(...JSON.parse(line.slice('bench-result '.length)));
      else rows.push({ bench: name, measure: '(no result: the benchmark did not finish)', pass: false });
      resolve(c);
    });
  });
  failed ||= code !== 0;
}
const num = (v, d = 0) => (typeof v === 'number' ? v.toFixed(d) : '');
process.stdout.write(`\n${'bench'.padEnd(7)} ${'measure'.padEnd(34)} ${'per s'.padStart(8)} ${'p99 ms'.padStart(8)} ${'baseline/s'.padStart(10)} ${'ratio'.padStart(6)}  ${'target'.padEnd(26)} result\n`);
for (const r of rows) {
  process.stdout.write(
    `${String(r.bench).padEnd(7)} ${String(r.measure).padEnd(34)} ${num(r.rps).padStart(8)} ${num(r.p99).padStart(8)} ${num(r.baseline).padStart(10)} ${num(r.ratio, 2).padStart(6)}  ${String(r.target ?? '').padEnd(26)} ${r.pass ? 'pass' : 'FAIL'}\n`,
  );
}
process.stdout.write('(baseline: a bare express endpoint for ingest and query; the same writes with plain pg for worker)\n');
process.exit(failed ? 1 : 0);
