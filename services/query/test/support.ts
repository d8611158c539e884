import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { createPrismaClient, createReadPool, type PrismaClient } from '@ephemera/db';
import { Migrator, defaultPrismaDir } from '@ephemera/db/migrate';
import { createScratchDatabase } from '@ephemera/db/testing';
import { JobSigner, RenewingQueue, createLogger } from '@ephemera/runtime';
import { ALL_QUEUES, QUEUES, namespaceFor } from '@ephemera/schema';
import type { ActionLimit, ApiAuth } from '../src/access.js';
import { createApp, type QueryAppDeps } from '../src/app.js';
import { OperatorBackOff } from '../src/dashboard/operator-back-off.js';
import { SessionStore } from '../src/dashboard/session-store.js';
import { StreamLimits } from '../src/dashboard/stream-limits.js';
import { createQueryMetrics } from '../src/metrics.js';
import { createOpenApiDocument } from '../src/openapi.js';

export interface QueryOptions {
  apiTokens?: string[];
  /** Defaults to `none`: an open API unless tokens are given (tokens always apply). */
  apiAuth?: ApiAuth;
  apiWriteTokens?: string[];
  actionLimit?: ActionLimit;
  /** Defaults to the actions queue of `queues`. */
  actionsQueue?: Queue;
  enqueueTimeoutMs?: number;
  admin?: QueryAppDeps['admin'];
  /** The dashboard's settings over the defaults below (sessions in the test's Redis prefix); `false`: no dashboard. */
  dashboard?: Partial<NonNullable<QueryAppDeps['dashboard']>> | false;
  /** /setup (registering the GitHub App); not served unless given. */
  setup?: QueryAppDeps['setup'];
  /** Where the app logs; by default nowhere. */
  logger?: QueryAppDeps['logger'];
}

/**
 * The query app over a scratch database and queues of a prefix of its own. `appWith` builds another app over
 * the same database and queues (its own metrics and login limiter), for other access settings.
 */
export async function startQuery(options: QueryOptions = {}) {
  const scratch = await createScratchDatabase();
  await new Migrator({ databaseUrl: scratch.url, prismaDir: defaultPrismaDir() }).migrate();
  const db: PrismaClient = createPrismaClient({ databaseUrl: scratch.url, poolSize: 5 });
  const prefix = `qt-${randomBytes(4).toString('hex')}`;
  const queues = ALL_QUEUES.map((name) => new Queue(name, { connection: { url: process.env.REDIS_URL }, prefix }));
  const actionsQueue = queues.find((x) => x.name === QUEUES.actions)!;
  const pool = createReadPool({ databaseUrl: scratch.url, poolSize: 5 });
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const sessionSecret = 'test-session-secret';
  const sessions = new SessionStore(redis, prefix, sessionSecret);
  // The QUEUE_SIGNING_KEY this service and the worker would share.
  const signingKey = randomBytes(32).toString('hex');
  const signer = new JobSigner(signingKey);
  const dashboardWith = (d: QueryOptions['dashboard']): QueryAppDeps['dashboard'] =>
    d === false
      ? undefined
      : {
          sessions,
          sessionSecret,
          sessionHours: 12,
          githubUrl: 'https://github.com',
          livePollMs: 200,
          operatorBackOff: new OperatorBackOff(redis, prefix),
          streams: new StreamLimits(redis, prefix, { total: 200 }),
          ...d,
        };
  const appWith = (o: QueryOptions) =>
    createApp({
      db: pool,
      queues,
      actionsQueue: new RenewingQueue(() => o.actionsQueue ?? actionsQueue),
      jobSigner: signer,
      metrics: createQueryMetrics(),
      logger: o.logger ?? options.logger ?? createLogger({ service: 'query', level: 'silent' }),
      apiTokens: o.apiTokens ?? [],
      apiAuth: o.apiAuth ?? 'none',
      apiWriteTokens: o.apiWriteTokens,
      actionLimit: o.actionLimit ?? options.actionLimit,
      enqueueTimeoutMs: o.enqueueTimeoutMs,
      admin: o.admin ?? {},
      dashboard: dashboardWith(o.dashboard ?? options.dashboard),
      setup: o.setup ?? options.setup,
    });
  return {
    app: appWith(options),
    appWith,
    db,
    queues,
    actionsQueue,
    prefix,
    redis,
    signer,
    signingKey,
    sessions,
    databaseUrl: scratch.url,
    async close() {
      await Promise.all(queues.map((q) => q.close()));
      await redis.quit();
      await db.$disconnect();
      await pool.end();
      await scratch.drop();
    },
  };
}

let seq = 0;
/** Inserts an environment (and its owner) directly, with a controlled creation time. */
export async function insertEnvironment(
  db: PrismaClient,
  v: { repo?: string; pr?: number; status?: string; createdAt?: Date; owner?: string; repositoryId?: number | null } = {},
) {
  seq++;
  const repo = v.repo ?? 'acme/web';
  const pr = v.pr ?? seq;
  const owner = await db.user.upsert({
    where: { githubId: BigInt(1000 + (v.owner ?? 'octocat').length) },
    create: { githubId: BigInt(1000 + (v.owner ?? 'octocat').length), githubLogin: v.owner ?? 'octocat' },
    update: {},
  });
  return db.environment.create({
    data: {
      repositoryId: v.repositoryId ?? null,
      repositoryFullName: repo,
      repositoryName: repo.split('/')[1]!,
      prNumber: pr,
      prTitle: `PR ${pr}`,
      branchName: `b${pr}`,
      commitSha: seq.toString(16).padStart(40, '0'),
      namespace: namespaceFor(repo, pr),
      environmentUrl: `https://${namespaceFor(repo, pr)}.preview.test`,
      status: (v.status ?? 'READY') as never,
      installationId: 3_000_000_000n,
      ownerId: owner.id,
      ...(v.createdAt ? { createdAt: v.createdAt } : {}),
    },
  });
}

/** Validates response bodies against the OpenAPI document the service serves. */
export function openApiValidator() {
  const document = createOpenApiDocument();
  const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(document as object, 'openapi');
  return {
    document,
    /** Throws with ajv's errors when `body` does not match the documented response. */
    check(pathTemplate: string, status: number, body: unknown, contentType = 'application/json', method: 'get' | 'post' = 'get') {
      const pointer = `openapi#/paths/${pathTemplate.replace(/~/g, '~0').replace(/\//g, '~1')}/${method}/responses/${status}/content/${contentType.replace(/\//g, '~1')}/schema`;
      const validate = ajv.compile({ $ref: pointer });
      if (!validate(body)) throw new Error(`${pathTemplate} ${status}: ${ajv.errorsText(validate.errors)}`);
    },
  };
}
