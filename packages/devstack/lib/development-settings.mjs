// @ts-check
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { STATE_DIR } from './workspace.mjs';

export const DEV_SECRET = 'ephemera-development-secret';
const DEV_ADMIN_USERNAME = 'admin';

/**
 * The secrets and settings a development stack needs before anything starts, filled in where not given. Set before
 * docker compose runs: Compose reads the whole file, and it requires GITHUB_WEBHOOK_SECRET, QUEUE_SIGNING_KEY and
 * ALLOWED_ACCOUNTS. Says whether the queue signing key is the generated development one.
 * @param {NodeJS.ProcessEnv} env changed in place
 */
export function developmentSecrets(env) {
  env.GITHUB_WEBHOOK_SECRET ??= DEV_SECRET;
  const generatedSigningKey = !env.QUEUE_SIGNING_KEY?.trim();
  if (generatedSigningKey) env.QUEUE_SIGNING_KEY = developmentSigningKey();
  // A development stack serves every account unless told otherwise, as the services do outside production.
  if (!env.ALLOWED_ACCOUNTS?.trim()) env.ALLOWED_ACCOUNTS = '*';
  return { generatedSigningKey };
}

/**
 * The query service's access settings for a development stack, filled in where not given: without API_TOKENS
 * the API is served open on purpose (API_AUTH=none; given tokens always apply), and the queue dashboard gets the
 * user `admin` with a password generated once and kept in .ephemera/ (so it stays the same between runs).
 * @param {NodeJS.ProcessEnv} env changed in place
 */
export function developmentAccess(env) {
  const hasTokens = (env.API_TOKENS ?? '').split(',').some((t) => t.trim() !== '');
  if (!hasTokens && !env.API_AUTH?.trim()) env.API_AUTH = 'none';
  let devPassword = false;
  if (!env.ADMIN_USERNAME?.trim()) env.ADMIN_USERNAME = DEV_ADMIN_USERNAME;
  if (!env.ADMIN_PASSWORD?.trim()) {
    env.ADMIN_PASSWORD = developmentPassword();
    devPassword = true;
  }
  return {
    apiOpen: !hasTokens && env.API_AUTH === 'none',
    devPassword,
    adminWrite: ['true', '1', 'yes'].includes(env.ADMIN_WRITE?.trim() ?? ''),
  };
}

/**
 * A secret of this checkout's development stack, kept in .ephemera/`name`: the one kept there when `longEnough`,
 * else a new one from `make`, written there for the next runs.
 * @param {string} name
 * @param {(kept: string) => boolean} longEnough
 * @param {() => string} make
 */
function keptSecret(name, longEnough, make) {
  const file = path.join(STATE_DIR, name);
  if (existsSync(file)) {
    const kept = readFileSync(file, 'utf8').trim();
    if (longEnough(kept)) return kept;
  }
  const secret = make();
  mkdirSync(STATE_DIR, { recursive: true });
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** The dashboard password of this checkout's development stack: 24 random characters, made on first use. */
function developmentPassword() {
  return keptSecret('admin-password', (kept) => kept.length >= 12, () => randomBytes(18).toString('base64url'));
}

/**
 * The QUEUE_SIGNING_KEY of this checkout's development stack: 32 random bytes in hex, made on first use and kept, so
 * that jobs left in its Redis (kept in .ephemera/ between runs) are still accepted by the next run's worker.
 */
function developmentSigningKey() {
  return keptSecret('queue-signing-key', (kept) => Buffer.byteLength(kept) >= 32, () => randomBytes(32).toString('hex'));
}
