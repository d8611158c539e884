import { createPrismaClient } from '@ephemera/db';
import { JobSigner, createService } from '@ephemera/runtime';
import { AccountAllowList } from '@ephemera/schema';
import { createApp } from './app.js';
import { githubCredentials, loadWorkerConfig } from './config.js';
import { NoGithubChecks, OctokitChecks } from './github/github-checks.js';
import { LoggingFeedback, OctokitFeedback, type GithubFeedback } from './github/github-feedback.js';
import { InstallationClients } from './github/installation-clients.js';
import { createWorkerMetrics } from './metrics.js';
import { GithubGateReader } from './gate/gate-reader.js';
import { createProvisioner } from './provisioners/create-provisioner.js';
import { GithubConfigSource } from './provisioners/preview-config-source.js';
import type { Provisioner } from './provisioners/provisioner.js';
import { startWorkerRuntime } from './worker-runtime.js';

const { config, logger, onStop, listen } = createService({
  name: 'worker',
  loadConfig: loadWorkerConfig,
  shutdownTimeoutMs: (c) => c.SHUTDOWN_TIMEOUT_MS,
});
const credentials = githubCredentials(config);
const clients = credentials ? new InstallationClients(credentials, config.GITHUB_API_URL, config.GITHUB_REQUEST_TIMEOUT_MS) : undefined;
let github: GithubFeedback;
if (clients && credentials) {
  github = new OctokitFeedback(clients);
  logger.info({ app_id: credentials.appId, api: config.GITHUB_API_URL }, 'GitHub feedback on');
} else {
  github = new LoggingFeedback(logger.child({ component: 'feedback' }));
  logger.warn('GitHub feedback is off (GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY not set): what would be sent is logged instead');
}
let provisioner: Provisioner;
try {
  provisioner = await createProvisioner(config, clients, ({ username, warnings }) => {
    logger.info({ kube_user: username }, `Kubernetes access checked for ${username}`);
    for (const w of warnings) logger.warn({ kube_user: username }, w);
  });
} catch (err) {
  logger.fatal({ provisioner: config.PROVISIONER }, `cannot start the ${config.PROVISIONER} provisioner: ${(err as Error).message}`);
  process.exit(1);
}
logger.info({ provisioner: provisioner.name }, `provisioner ${provisioner.name} ready`);
const db = createPrismaClient({
  databaseUrl: config.DATABASE_URL,
  poolSize: config.DATABASE_POOL_SIZE,
  preparedStatements: config.DATABASE_PREPARED_STATEMENTS,
  onStatementsReset: ({ preparing, error }) =>
    logger.warn(
      { err: { message: error } },
      preparing
        ? 'PostgreSQL refused a prepared statement; every statement is prepared again'
        : 'PostgreSQL keeps refusing prepared statements; they run unprepared from now on (behind a pooler in transaction mode, set DATABASE_PREPARED_STATEMENTS=0)',
    ),
});
const metrics = createWorkerMetrics();
const runtime = await startWorkerRuntime(
  config,
  {
    db,
    provisioner,
    github,
    clients,
    checks: clients ? new OctokitChecks(clients, config.PERMISSION_CACHE_SECONDS, logger.child({ component: 'checks' })) : new NoGithubChecks(),
    settings: {
      previewBaseDomain: config.PREVIEW_BASE_DOMAIN,
      previewLabel: config.PREVIEW_LABEL,
      approveLabel: config.PREVIEW_APPROVE_LABEL,
      forkApproval: config.FORK_APPROVAL,
      previewUrlScheme: config.PREVIEW_URL_SCHEME,
      maxEnvironmentsPerRepo: config.MAX_ENVIRONMENTS_PER_REPO,
      logMaxBytes: config.DEPLOYMENT_LOG_MAX_BYTES,
    },
    logger,
    metrics,
    signer: new JobSigner(config.QUEUE_SIGNING_KEY, config.QUEUE_SIGNING_KEY_PREVIOUS),
    accounts: config.ALLOWED_ACCOUNTS ?? AccountAllowList.ANY,
    // The deploy gate reads `.ephemera.yml` as the Kubernetes provisioner does; PROVISIONER=none reads none and never waits.
    gate:
      config.PROVISIONER === 'kubernetes' && clients
        ? { configs: new GithubConfigSource(clients, { maxReplicas: config.PREVIEW_MAX_REPLICAS, maxAddonStorage: config.PREVIEW_MAX_ADDON_STORAGE }), reader: new GithubGateReader(clients) }
        : undefined,
  },
);

const server = listen(createApp({ db, redis: runtime.redis, queues: runtime.queues, metrics }), config.WORKER_PORT, 'WORKER_PORT', () => {
  logger.info(
    {
      port: config.WORKER_PORT,
      concurrency: config.WORKER_CONCURRENCY,
      provisioner: config.PROVISIONER,
      allowed_accounts: String(config.ALLOWED_ACCOUNTS ?? AccountAllowList.ANY),
      previous_signing_key: config.QUEUE_SIGNING_KEY_PREVIOUS !== undefined,
    },
    `worker running; ops on :${config.WORKER_PORT}`,
  );
});

onStop(async () => {
  server.close();
  await runtime.close();
  await db.$disconnect();
});
