// @ts-check
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** Where the query service's /setup saves the GitHub App it registers, under the state directory (GITHUB_APP_ENV_FILE). */
export const GITHUB_APP_ENV_FILE_NAME = 'github-app.env';

/**
 * The settings of an env file in the format of `docker run --env-file`, which /setup writes: `NAME=value` lines, the
 * value the rest of the line (unquoted), blank lines and `#` comment lines skipped. Null when there is no file.
 * @param {string} file
 * @returns {Record<string, string> | null}
 */
export function readEnvFile(file) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code === 'ENOENT') return null;
    throw err;
  }
  /** @type {Record<string, string>} */
  const values = {};
  for (const line of text.split(/\r?\n/)) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (match) values[match[1]] = match[2];
  }
  return values;
}

/**
 * The GitHub App's settings for `npm start`: GITHUB_APP_ENV_FILE (default `.ephemera/github-app.env` under `root`), made
 * absolute so that every service reads the same file, and each setting of that file that the environment does not set
 * (a variable set in the environment wins). Says which settings came from the file, and whether to offer /setup: no
 * GITHUB_APP_ID is known, from either.
 * @param {NodeJS.ProcessEnv} env changed in place
 * @param {string} root where a relative GITHUB_APP_ENV_FILE is found (the checkout's root, the services' working directory)
 * @returns {{ file: string, fromFile: string[], offerSetup: boolean }}
 */
export function applyGithubAppEnv(env, root) {
  const file = path.resolve(root, env.GITHUB_APP_ENV_FILE?.trim() || path.join('.ephemera', GITHUB_APP_ENV_FILE_NAME));
  env.GITHUB_APP_ENV_FILE = file;
  /** @type {string[]} */
  const fromFile = [];
  for (const [name, value] of Object.entries(readEnvFile(file) ?? {})) {
    if (env[name]?.trim() || !value.trim()) continue;
    env[name] = value;
    fromFile.push(name);
  }
  return { file, fromFile, offerSetup: !env.GITHUB_APP_ID?.trim() };
}

/**
 * The banner's line about the GitHub App: its id and where it came from, or the offer to register one.
 * @param {NodeJS.ProcessEnv} env as {@link applyGithubAppEnv} left it
 * @param {{ file: string, fromFile: string[], offerSetup: boolean }} app what it said
 * @param {string} queryUrl the query service's address
 * @param {string} root for showing the file's path relative to the checkout
 */
export function githubAppBanner(env, app, queryUrl, root) {
  if (app.offerSetup) return `Register the GitHub App: ${queryUrl}/setup`;
  const source = app.fromFile.includes('GITHUB_APP_ID') ? `from ${path.relative(root, app.file) || app.file}` : 'from GITHUB_APP_ID';
  return `id ${env.GITHUB_APP_ID} (${source})`;
}
