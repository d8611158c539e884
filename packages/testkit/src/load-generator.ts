import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** One autocannon run, described as data so that it can run in a process of its own. */
export interface LoadOptions {
  /** Origin of the server under load, e.g. `http://127.0.0.1:3001`. */
  origin: string;
  connections: number;
  durationSeconds: number;
  method?: 'GET' | 'POST';
  /** Request paths, taken in turn. */
  paths: string[];
  headers?: Record<string, string>;
  body?: string;
  /** A header given a fresh UUID on every request (GitHub's X-GitHub-Delivery, say). */
  uniqueHeader?: string;
}

export interface LoadFigures {
  /** Mean requests per second. */
  rps: number;
  /** Latency percentiles, milliseconds. */
  p50: number;
  p99: number;
  /** Answers with a 2xx status. */
  ok: number;
  /** Answers with another status, errors and timeouts. */
  other: number;
}

/**
 * Runs autocannon in a fresh Node process and returns its figures. A benchmark that measures several servers in
 * turn from one process saw its load generator grow heavier run after run, taking CPU from whatever was measured
 * later; a process per run puts every measurement on the same footing.
 */
export async function runLoad(options: LoadOptions): Promise<LoadFigures> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./load-child.js', import.meta.url))], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stdin.end(JSON.stringify(options));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`the load generator exited with ${code}`);
  return JSON.parse(out) as LoadFigures;
}
