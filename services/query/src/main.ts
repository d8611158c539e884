import { Queue } from 'bullmq';
import { createReadPool } from '@ephemera/db';
import { JobSigner, RenewingQueue, createRedis, createService, logErrors } from '@ephemera/runtime';
import { ALL_QUEUES, QUEUES } from '@ephemera/schema';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createApp } from './app.js';
import { loadQueryConfig } from './config.js';
import { GITHUB_SIGN_IN_CALLBACK_PATH, GithubSignIn } from './dashboard/github-sign-in.js';
import { OperatorBackOff } from './dashboard/operator-back-off.js';
import { SessionStore } from './dashboard/session-store.js';
import { StreamLimits } from './dashboard/stream-limits.js';
import { createQueryMetrics } from './metrics.js';
import { githubAppEnvFileHasId } from './setup/github-app-env-file.js';
import { OctokitManifestConversion } from './setup/manifest-conversion.js';

const { config, logger, onStop, listen } = createService({ name: 'query', loadConfig: loadQueryConfig });
if (config.API_TOKENS.length === 0 && config.API_AUTH === 'none') {
  logger.warn('API_AUTH=none and no API_TOKENS: the environments API is open to anyone who can reach it; set API_TOKENS to require a token');
} else if (config.API_AUTH === 'none') {
  logger.warn('API_AUTH=none is ignored because API_TOKENS is set: the environments API requires one of the tokens');
}
if (config.API_WRITE_TOKENS.length === 0) {
  logger.info('no API_WRITE_TOKENS: the API refuses redeploy and destroy (403); set API_WRITE_TOKENS to allow them');
} else {
  logger.info({ write_token_count: config.API_WRITE_TOKENS.length }, 'redeploy and destroy are allowed with a token of API_WRITE_TOKENS');
}
if (config.ADMIN_USERNAME === undefined || config.ADMIN_PASSWORD === undefined) {
  logger.warn('Bull Board /admin/queues is off (404): set ADMIN_USERNAME and ADMIN_PASSWORD to serve it behind basic auth');
} else if (config.ADMIN_WRITE) {
  logger.info('ADMIN_WRITE=true: Bull Board can retry, promote, clean, add and remove jobs and pause queues');
} else {
  logger.info('Bull Board /admin/queues is read-only; set ADMIN_WRITE=true to change queues from it');
}

const db = createReadPool({ databaseUrl: config.DATABASE_URL, poolSize: config.DATABASE_POOL_SIZE });
db.on('error', (err) => logger.warn({ err: { message: err.message } }, 'idle database connection error'));
const redis = createRedis(config.REDIS_URL, 'worker');
logErrors(redis, logger, 'redis connection error');
const queues = ALL_QUEUES.map((name) => {
  const q = new Queue(name, { connection: redis, prefix: config.QUEUE_PREFIX });
  logErrors(q, logger.child({ component: 'queue', queue: name }), 'queue error');
  return q;
});
// The API's own handle on the actions queue, on a connection that fails fast: an action is answered 503 while
// Redis is away instead of waiting for it in ioredis' offline queue.
const producer = createRedis(config.REDIS_URL, 'producer');
logErrors(producer, logger, 'redis connection error');
const actionsQueue = new RenewingQueue(
  () => {
    const q = new Queue(QUEUES.actions, { connection: producer, prefix: config.QUEUE_PREFIX });
    logErrors(q, logger.child({ component: 'queue', queue: QUEUES.actions }), 'queue error');
    return q;
  },
  (err) => logger.warn({ err: { message: err.message } }, 'the actions queue could not check Redis when it started; made it again'),
);
if (config.SESSION_SECRET === undefined) {
  logger.warn('no SESSION_SECRET: dashboard sessions are signed with a key of this process and end when it stops (set SESSION_SECRET to keep them)');
}
// One key for the session cookies' signatures and, derived from it, the GitHub tokens' encryption at rest.
const sessionSecret = config.SESSION_SECRET ?? randomBytes(32).toString('hex');
if (config.PUBLIC_URL?.startsWith('http:')) {
  logger.warn({ public_url: config.PUBLIC_URL }, 'PUBLIC_URL is http: the dashboard\'s cookies are not Secure and travel in clear; serve it over https');
}
const github =
  config.GITHUB_CLIENT_ID !== undefined && config.GITHUB_CLIENT_SECRET !== undefined && config.PUBLIC_URL !== undefined
    ? new GithubSignIn({
        clientId: config.GITHUB_CLIENT_ID,
        clientSecret: config.GITHUB_CLIENT_SECRET,
        webUrl: config.GITHUB_URL,
        apiUrl: config.GITHUB_API_URL,
        callbackUrl: `${config.PUBLIC_URL.replace(/\/$/, '')}${GITHUB_SIGN_IN_CALLBACK_PATH}`,
        timeoutMs: config.GITHUB_REQUEST_TIMEOUT_MS,
      })
    : undefined;
if (!github) logger.info('signing in to the dashboard with GitHub is off: set GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET and PUBLIC_URL to allow it');
if (config.ADMIN_SIGN_IN === 'off') {
  logger.info('ADMIN_SIGN_IN=off: the dashboard has no operator sign-in form');
  if (!github) logger.warn('ADMIN_SIGN_IN=off and GitHub sign-in is off: nobody can sign in to the dashboard');
}
const envFile = path.resolve(config.GITHUB_APP_ENV_FILE);
if (config.GITHUB_APP_ID === undefined && !githubAppEnvFileHasId(envFile)) {
  if (config.SETUP_TOKEN !== undefined) logger.info('no GitHub App is configured: register one at /setup with SETUP_TOKEN');
  else if (config.NODE_ENV === 'production') logger.info('no GitHub App is configured, and /setup is off in production without SETUP_TOKEN: set SETUP_TOKEN to register one there');
  else logger.info('no GitHub App is configured: register one at /setup from this machine');
}
const app = createApp({
  db,
  queues,
  actionsQueue,
  jobSigner: new JobSigner(config.QUEUE_SIGNING_KEY),
  metrics: createQueryMetrics(),
  logger,
  apiTokens: config.API_TOKENS,
  apiAuth: config.API_AUTH,
  apiWriteTokens: config.API_WRITE_TOKENS,
  admin: { username: config.ADMIN_USERNAME, password: config.ADMIN_PASSWORD, write: config.ADMIN_WRITE, signIn: config.ADMIN_SIGN_IN === 'on' },
  dashboard: {
    // Sessions (and the sign-in and stream counts) on the fail-fast connection: a page answers with an error rather
    // than waiting for Redis.
    sessions: new SessionStore(producer, config.QUEUE_PREFIX, sessionSecret),
    operatorBackOff: new OperatorBackOff(producer, config.QUEUE_PREFIX),
    streams: new StreamLimits(producer, config.QUEUE_PREFIX, { total: config.DASHBOARD_MAX_STREAMS }),
    accessTtlMs: config.DASHBOARD_ACCESS_SECONDS * 1000,
    sessionSecret,
    sessionHours: config.SESSION_HOURS,
    publicUrl: config.PUBLIC_URL,
    githubUrl: config.GITHUB_URL,
    github,
  },
  setup: {
    githubUrl: config.GITHUB_URL,
    conversion: new OctokitManifestConversion({ apiUrl: config.GITHUB_API_URL, timeoutMs: config.GITHUB_REQUEST_TIMEOUT_MS }),
    envFile,
    publicUrl: config.PUBLIC_URL,
    smeeUrl: config.SMEE_URL,
    appConfigured: config.GITHUB_APP_ID !== undefined,
    token: config.SETUP_TOKEN,
    production: config.NODE_ENV === 'production',
    cookieSecret: sessionSecret,
  },
});
const server = listen(app, config.QUERY_PORT, 'QUERY_PORT', () => {
  logger.info({ port: config.QUERY_PORT }, `query listening on :${config.QUERY_PORT} (dashboard /, API /api/v1, docs /docs, Bull Board /admin/queues)`);
});

onStop(async () => {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
  await Promise.all([...queues.map((q) => q.close()), actionsQueue.close()]);
  await Promise.all([redis, producer].map((r) => r.quit().catch(() => undefined)));
  await db.end();
});
