import { ConfigError, env, parseConfig } from '@ephemera/runtime';
import { z } from 'zod';
import { STALE_ACCESS_LIMIT_MS } from './dashboard/refresh-access.js';

/** The shortest ADMIN_PASSWORD accepted when NODE_ENV=production. */
const MIN_PRODUCTION_ADMIN_PASSWORD = 12;
/**
 * The shortest API_WRITE_TOKENS entry accepted when NODE_ENV=production, as for ingest's webhook secrets: a write
 * token can tear environments down, and job data and logs carry a few digits of its hash.
 */
const MIN_PRODUCTION_WRITE_TOKEN = 20;
/** The shortest SESSION_SECRET accepted when NODE_ENV=production: it signs every session cookie. */
const MIN_PRODUCTION_SESSION_SECRET = 32;
/** The shortest SETUP_TOKEN accepted when NODE_ENV=production: whoever has it registers the App Ephemera acts as. */
const MIN_PRODUCTION_SETUP_TOKEN = 20;
/** GITHUB_APP_ENV_FILE's default: the file in `npm start`'s state directory, from the checkout's root. */
export const DEFAULT_GITHUB_APP_ENV_FILE = '.ephemera/github-app.env';

export const queryConfigSchema = z.object({
  DATABASE_URL: env.databaseUrl(),
  DATABASE_POOL_SIZE: env.positiveInt(10),
  REDIS_URL: env.redisUrl(),
  QUEUE_PREFIX: z.string().regex(/^[a-zA-Z0-9_-]+$/).default('ephemera'),
  QUERY_PORT: env.port(3002),
  /** Bearer tokens accepted by the API, comma-separated. Required unless API_AUTH=none; given tokens always apply. */
  API_TOKENS: env.list().default([]),
  /**
   * Bearer tokens that may also redeploy and destroy environments (and read), comma-separated. None: those
   * actions are refused. A token is either a read token or a write token, never both.
   */
  API_WRITE_TOKENS: env.list().default([]),
  /** `none` serves the API without authentication on purpose when API_TOKENS is empty (ignored when tokens are set). */
  API_AUTH: z.enum(['token', 'none']).optional(),
  /** Basic-auth credentials for Bull Board at /admin/queues; without both Bull Board is not served (404). */
  ADMIN_USERNAME: z.string().min(1).optional(),
  ADMIN_PASSWORD: z.string().min(1).optional(),
  /** true: Bull Board may change queues (retry, promote, clean, add, remove, pause…); otherwise it is read-only. */
  ADMIN_WRITE: env.bool(false),
  /**
   * `off` removes the dashboard's operator sign-in form (installs that sign in with GitHub only); Bull Board keeps
   * its basic auth with ADMIN_USERNAME and ADMIN_PASSWORD either way.
   */
  ADMIN_SIGN_IN: z.enum(['on', 'off']).default('on'),

  /** The GitHub App's OAuth credentials, for "Sign in with GitHub" on the dashboard; without both it is off. */
  GITHUB_CLIENT_ID: z.string().min(1).optional(),
  GITHUB_CLIENT_SECRET: z.string().min(1).optional(),
  /** GitHub's web address (the OAuth pages, and links to pull requests and commits). */
  GITHUB_URL: z.url({ protocol: /^https?$/ }).default('https://github.com'),
  /** GitHub's REST API, named and defaulted as the worker's. */
  GITHUB_API_URL: z.url({ protocol: /^https?$/ }).default('https://api.github.com'),
  /** Every request to GitHub is abandoned after this long, as in the worker. */
  GITHUB_REQUEST_TIMEOUT_MS: env.positiveInt(10_000),
  /** The query service's public address: GitHub sends people back to PUBLIC_URL/auth/github/callback. */
  PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** true lets production run with an http PUBLIC_URL, whose cookies are then neither Secure nor `__Host-`. */
  ALLOW_INSECURE_PUBLIC_URL: env.bool(false),
  /** Signs the dashboard's session cookie; required in production (a random one per process otherwise). */
  SESSION_SECRET: z.string().min(1).optional(),
  /** How long a dashboard session lasts. */
  SESSION_HOURS: z.coerce.number().positive().max(24 * 30).default(12),
  /**
   * How long what GitHub says a person reaches is used before GitHub is asked again, in seconds: at most the age past
   * which the dashboard shows nothing by an answer GitHub did not renew.
   */
  DASHBOARD_ACCESS_SECONDS: z.coerce.number().int().min(1).max(STALE_ACCESS_LIMIT_MS / 1000).default(60),
  /** Live views (event streams) open at once in one query process; past it, and past 4 per session, 429. */
  DASHBOARD_MAX_STREAMS: env.positiveInt(200),
  /**
   * The worker's GitHub App, read here only to know that one is configured: set (the worker checks its value, and the
   * Kubernetes manifests' placeholder counts as set), /setup answers 404.
   */
  GITHUB_APP_ID: z.string().min(1).optional(),
  /**
   * Where /setup saves the App it registers (`npm start` reads it and passes it to the services), and whose
   * GITHUB_APP_ID, like the variable, means an App is configured. Relative to the working directory.
   */
  GITHUB_APP_ENV_FILE: z.string().min(1).default(DEFAULT_GITHUB_APP_ENV_FILE),
  /** When set, /setup asks for it and serves whoever gives it; unset, only this machine (and not at all in production). */
  SETUP_TOKEN: z.string().min(1).optional(),
  /** A smee.io channel that `npm start` forwards to ingest: the webhook URL of the App /setup registers. */
  SMEE_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** Signs the redeploy and destroy jobs the service queues, so the worker can tell them from anyone else's. */
  QUEUE_SIGNING_KEY: env.queueSigningKey(),
  LOG_LEVEL: env.logLevel(),
  NODE_ENV: env.nodeEnv(),
});

export type QueryConfig = z.infer<typeof queryConfigSchema>;

/**
 * Parses the configuration and applies the access rules, in every NODE_ENV: the API needs API_TOKENS (or
 * API_WRITE_TOKENS) unless API_AUTH=none says otherwise on purpose; no token is in both lists; Bull Board's
 * credentials go together; in production the password has at least {@link MIN_PRODUCTION_ADMIN_PASSWORD}
 * characters, each write token at least {@link MIN_PRODUCTION_WRITE_TOKEN}, SETUP_TOKEN (if set) at least
 * {@link MIN_PRODUCTION_SETUP_TOKEN}, and PUBLIC_URL is https unless ALLOW_INSECURE_PUBLIC_URL=true. Problems name a
 * token by its position in the list, never by its value.
 */
export function loadQueryConfig(environment: NodeJS.ProcessEnv = process.env): QueryConfig {
  const config = parseConfig(queryConfigSchema, environment);
  const problems: string[] = [];
  if (config.API_TOKENS.length === 0 && config.API_WRITE_TOKENS.length === 0 && config.API_AUTH !== 'none') {
    problems.push(
      'API_TOKENS is not set: set API_TOKENS to the bearer tokens the environments API accepts (comma-separated; API_WRITE_TOKENS for tokens that may also redeploy and destroy), or set API_AUTH=none to serve the API without authentication on purpose',
    );
  }
  const readTokens = new Set(config.API_TOKENS);
  config.API_WRITE_TOKENS.forEach((token, i) => {
    if (readTokens.has(token)) {
      problems.push(`API_WRITE_TOKENS: token ${i + 1} is in API_TOKENS as well; a token either only reads (API_TOKENS) or may also act (API_WRITE_TOKENS): remove it from one of the lists`);
    }
    if (config.NODE_ENV === 'production' && token.length < MIN_PRODUCTION_WRITE_TOKEN) {
      problems.push(`API_WRITE_TOKENS: token ${i + 1} is ${token.length} characters; in production every write token must be at least ${MIN_PRODUCTION_WRITE_TOKEN} characters (a long random string, e.g. openssl rand -hex 24)`);
    }
  });
  if ((config.ADMIN_USERNAME === undefined) !== (config.ADMIN_PASSWORD === undefined)) {
    problems.push('ADMIN_USERNAME and ADMIN_PASSWORD go together (set both to serve /admin/queues, or neither)');
  }
  if (config.NODE_ENV === 'production' && config.ADMIN_PASSWORD !== undefined && config.ADMIN_PASSWORD.length < MIN_PRODUCTION_ADMIN_PASSWORD) {
    problems.push(`ADMIN_PASSWORD must be at least ${MIN_PRODUCTION_ADMIN_PASSWORD} characters long when NODE_ENV=production`);
  }
  if ((config.GITHUB_CLIENT_ID === undefined) !== (config.GITHUB_CLIENT_SECRET === undefined)) {
    problems.push('GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET go together (the GitHub App\'s OAuth credentials, for signing in to the dashboard with GitHub; set both, or neither)');
  }
  if (config.GITHUB_CLIENT_ID !== undefined && config.PUBLIC_URL === undefined) {
    problems.push('PUBLIC_URL is not set: signing in with GitHub needs the dashboard\'s public address (GitHub sends people back to PUBLIC_URL/auth/github/callback)');
  }
  if (config.NODE_ENV === 'production' && config.PUBLIC_URL?.startsWith('http:') && !config.ALLOW_INSECURE_PUBLIC_URL) {
    problems.push(
      'PUBLIC_URL is http: in production the dashboard\'s cookies (sessions, sign-in) must not travel in clear: serve it over https and set an https PUBLIC_URL, or set ALLOW_INSECURE_PUBLIC_URL=true to accept that on purpose',
    );
  }
  if (config.NODE_ENV === 'production' && (config.SESSION_SECRET === undefined || config.SESSION_SECRET.length < MIN_PRODUCTION_SESSION_SECRET)) {
    problems.push(`SESSION_SECRET must be set to at least ${MIN_PRODUCTION_SESSION_SECRET} characters when NODE_ENV=production: it signs the dashboard's session cookies (e.g. openssl rand -hex 32)`);
  }
  if (config.NODE_ENV === 'production' && config.SETUP_TOKEN !== undefined && config.SETUP_TOKEN.length < MIN_PRODUCTION_SETUP_TOKEN) {
    problems.push(`SETUP_TOKEN must be at least ${MIN_PRODUCTION_SETUP_TOKEN} characters when NODE_ENV=production: it lets whoever has it register the GitHub App (e.g. openssl rand -hex 24)`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
