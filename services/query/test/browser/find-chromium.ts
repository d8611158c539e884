import { execFileSync, spawnSync } from 'node:child_process';

const NAMES = ['chromium', 'chromium-browser', 'google-chrome'];

function which(): string | null {
  for (const name of NAMES) {
    const found = spawnSync('which', [name], { encoding: 'utf8' });
    if (found.status === 0 && found.stdout.trim()) return found.stdout.trim();
  }
  return null;
}

/**
 * The path of a Chromium for puppeteer-core, installed with apt-get (Debian's `chromium`) when there is none, so the
 * browser tests run wherever the other tests do. Throws, saying what to install, when that is not possible.
 */
export function findChromium(): string {
  const existing = process.env.CHROMIUM_PATH ?? which();
  if (existing) return existing;
  const root = process.getuid?.() === 0;
  const run = (args: string[]) => execFileSync(root ? 'apt-get' : 'sudo', root ? args : ['-n', 'apt-get', ...args], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  try {
    run(['install', '-y', '--no-install-recommends', 'chromium']);
  } catch {
    try {
      run(['update']);
      run(['install', '-y', '--no-install-recommends', 'chromium']);
    } catch (err) {
      throw new Error('no Chromium, and apt-get could not install it: install chromium, or set CHROMIUM_PATH', { cause: err });
    }
  }
  const installed = which();
  if (!installed) throw new Error('apt-get installed chromium, but it is not on PATH: set CHROMIUM_PATH');
  return installed;
}
