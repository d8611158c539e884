// @ts-check
import { spawn } from 'node:child_process';
import path from 'node:path';
import { SetupError, dim, red, yellow } from './log.mjs';
import { ROOT } from './workspace.mjs';

/**
 * @typedef {{ name: string, color: (text: string) => string, portVar: string, port: number }} Service
 */

/**
 * Starts a service's built `main.js` with `env`, its log lines on stdout prefixed with its name in its colour.
 * @param {Service} service
 * @param {NodeJS.ProcessEnv} env
 */
export function startService(service, env) {
  const child = spawn(process.execPath, [path.join(ROOT, 'services', service.name, 'dist', 'main.js')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = service.color(`${service.name.padEnd(6)} │`);
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream?.on('data', (chunk) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) process.stdout.write(`${prefix} ${readable(line)}\n`);
    });
  }
  return child;
}

/**
 * Waits until a service answers its readiness check on `port`, for at most 60 s.
 * @param {Service} service
 * @param {number} port
 */
export async function waitUntilReady(service, port) {
  const url = `http://127.0.0.1:${port}/readyz`;
  const deadline = Date.now() + 60_000;
  while (!(await fetch(url).then((r) => r.ok, () => false))) {
    if (Date.now() > deadline) throw new SetupError(`${service.name} did not become ready within 60 s (${url}); see its log lines above`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * pino's JSON lines, shortened to "level message key=value …" for a terminal.
 * @param {string} line
 */
function readable(line) {
  if (!line.startsWith('{')) return line;
  try {
    const { level, time: _t, service: _s, msg, ...rest } = JSON.parse(line);
    const fields = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`)
      .join(' ');
    const tag = level === 'error' || level === 'fatal' ? red(level) : level === 'warn' ? yellow(level) : dim(level);
    return `${tag} ${msg ?? ''} ${dim(fields)}`;
  } catch {
    return line;
  }
}
