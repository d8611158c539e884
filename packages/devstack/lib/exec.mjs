// @ts-check
import { spawn, spawnSync } from 'node:child_process';
import { SetupError } from './log.mjs';

/**
 * Runs a command to completion with inherited output; throws SetupError naming the command when it fails.
 * @param {string} cmd @param {string[]} args @param {import('node:child_process').SpawnOptions} [options]
 */
export function run(cmd, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'inherit', ...options });
    child.on('error', (err) => reject(new SetupError(`could not run ${cmd}: ${err.message}`)));
    child.on('exit', (code, signal) => {
      if (code === 0) resolve(undefined);
      else reject(new SetupError(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`})`));
    });
  });
}

/**
 * {@link run} with each line of its output prefixed (as turbo prefixes a task's), for a command that runs beside
 * turbo. @param {string} cmd @param {string[]} args @param {string} prefix @param {import('node:child_process').SpawnOptions} [options]
 */
export function prefixed(cmd, args, prefix, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const [from, to] of /** @type {const} */ ([[child.stdout, process.stdout], [child.stderr, process.stderr]])) {
      let rest = '';
      from.setEncoding('utf8');
      from.on('data', (chunk) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        if (lines.length > 0) to.write(lines.map((l) => `${prefix}${l}\n`).join(''));
      });
      from.on('end', () => {
        if (rest) to.write(`${prefix}${rest}\n`);
      });
    }
    child.on('error', (err) => reject(new SetupError(`could not run ${cmd}: ${err.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve(undefined);
      else reject(new SetupError(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`})`));
    });
  });
}

/** Runs a command and returns its stdout, or null when it cannot run or fails. */
export function capture(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
  return r.status === 0 ? String(r.stdout).trim() : null;
}

/** The full path of an executable on PATH, or null. */
export function which(name) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir) continue;
    const path = `${dir}/${name}`;
    if (spawnSync('test', ['-x', path]).status === 0) return path;
  }
  return null;
}
