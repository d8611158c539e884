import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, mkdir, open, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ConvertedApp } from './manifest-conversion.js';

/**
 * The settings the file gives the services, by the names they read them under: the worker the App's id and key, ingest
 * the webhook secret, the query service the OAuth credentials for "Sign in with GitHub".
 */
function settingsOf(app: ConvertedApp): Record<string, string> {
  return {
    GITHUB_APP_ID: String(app.id),
    // One line: the worker reads `\n` in a PEM given as text as a line break.
    GITHUB_APP_PRIVATE_KEY: app.pem.trim().replace(/\r?\n/g, '\\n'),
    GITHUB_WEBHOOK_SECRET: app.webhook_secret,
    GITHUB_CLIENT_ID: app.client_id,
    GITHUB_CLIENT_SECRET: app.client_secret,
  };
}

/**
 * The file's text, in the format of `docker run --env-file` (which `npm start` reads): `NAME=value` lines, the value
 * the rest of the line, unquoted; `#` starts a comment line.
 */
export function githubAppEnvText(app: ConvertedApp, at: Date = new Date()): string {
  const lines = Object.entries(settingsOf(app)).map(([name, value]) => `${name}=${value}`);
  return [
    `# The GitHub App ${app.slug} (id ${app.id}), registered through /setup on ${at.toISOString()}.`,
    '# npm start reads this file; a variable set in its environment wins over the line here. Keep it secret.',
    ...lines,
    '',
  ].join('\n');
}

/**
 * Saves the App's credentials to `file` (mode 0600, its directory made 0700 when missing) unless the file exists:
 * `exists` then, and the file is left as it was. Written to a temporary file created 0600 and linked into place, so the
 * file is never readable by others nor seen half-written, and a file that appeared meanwhile is never replaced
 * (a rename would replace it).
 */
export async function saveGithubAppEnvFile(file: string, app: ConvertedApp): Promise<'saved' | 'exists'> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temporary = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temporary, 'wx', 0o600);
    try {
      await handle.writeFile(githubAppEnvText(app));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(temporary, file);
    return 'saved';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return 'exists';
    throw err;
  } finally {
    await rm(temporary, { force: true });
  }
}

/** Whether `file` names a GitHub App (a `GITHUB_APP_ID` line with a value); false when there is no such file. */
export function githubAppEnvFileHasId(file: string): boolean {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return false;
  }
  return /^GITHUB_APP_ID=\S/m.test(text);
}
