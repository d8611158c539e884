import type { Redis } from 'ioredis';
import type { PrismaClient } from '@ephemera/db';
import type { Logger } from '@ephemera/runtime';
import type { AccountAllowList } from '@ephemera/schema';
import type { FollowUps } from '../follow-ups.js';
import type { GateReader } from '../gate/gate-reader.js';
import type { GithubChecks } from '../github/github-checks.js';
import type { GithubFeedback } from '../github/github-feedback.js';
import type { InstallationClients } from '../github/installation-clients.js';
import type { WorkerMetrics } from '../metrics.js';
import type { PreviewConfigSource } from '../provisioners/preview-config-source.js';
import type { Provisioner } from '../provisioners/provisioner.js';
import type { PreviewSettings } from '../pull-request-reconciler.js';
import type { WorkerQueues } from '../queues.js';
import type { RuntimeSettings, WorkerTiming } from '../worker-settings.js';

/** What every job's handler may use: one per runtime, made when it starts. */
export interface JobContext {
  db: PrismaClient;
  provisioner: Provisioner;
  github: GithubFeedback;
  /** What is asked of GitHub before trusting a delivery (permissions, installations). */
  checks: GithubChecks;
  /** The App's clients, for the redelivery and resync passes; absent without App credentials. */
  clients?: InstallationClients | undefined;
  settings: PreviewSettings;
  logger: Logger;
  metrics: WorkerMetrics;
  followUps: FollowUps;
  queues: WorkerQueues;
  /** Redis, under QUEUE_PREFIX, where ingest records the deliveries it settled without a job. */
  redis: Redis;
  /**
   * ALLOWED_ACCOUNTS. The sweeps deploy, resume and look again only for environments of these accounts; removing
   * (idle, orphaned, a teardown retried) goes on for every account.
   */
  accounts: AccountAllowList;
  /** The deploy gate's configuration source and check reader; absent with PROVISIONER=none, which never waits. */
  gate?: { configs: PreviewConfigSource; reader: GateReader } | undefined;
  config: RuntimeSettings;
  timing: WorkerTiming;
}
