// @ts-check
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { capture, run } from './exec.mjs';
import { say } from './log.mjs';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** Git-ignored home of everything the stack keeps between runs (database files, Redis AOF, tools). */
export const STATE_DIR = path.join(ROOT, '.ephemera');
const PNPM_VERSION = '12.4.2';

/**
 * A pnpm to run: the one on PATH when it is recent enough, otherwise pnpm installed with npm into
 * .ephemera/tools (no root, no corepack). Returns the environment's PATH with that pnpm on it.
 */
export async function ensurePnpm() {
  const onPath = capture('pnpm', ['--version']);
  if (onPath && Number(onPath.split('.')[0]) >= 10) return process.env.PATH ?? '';
  const toolsDir = path.join(STATE_DIR, 'tools');
  const binDir = path.join(toolsDir, 'node_modules', '.bin');
  if (!existsSync(path.join(binDir, 'pnpm'))) {
    say(`installing pnpm ${PNPM_VERSION} into ${path.relative(ROOT, toolsDir)}`);
    mkdirSync(toolsDir, { recursive: true });
    await run('npm', ['install', '--prefix', toolsDir, '--no-audit', '--no-fund', '--loglevel=error', `pnpm@${PNPM_VERSION}`]);
  }
  return `${binDir}:${process.env.PATH ?? ''}`;
}

/** `pnpm install` with the committed lockfile (which runs `prisma generate` through the root postinstall). */
export async function installDependencies(env) {
  say('installing dependencies (pnpm install --frozen-lockfile)');
  await run('pnpm', ['install', '--frozen-lockfile', '--reporter=append-only'], { cwd: ROOT, env });
  // pnpm skips the postinstall when node_modules was already up to date; the generated client may still be missing.
  if (!existsSync(path.join(ROOT, 'packages/db/src/generated/prisma/client.ts'))) {
    await run('pnpm', ['generate'], { cwd: ROOT, env });
  }
}
