import { createMetricsRegistry } from '@ephemera/runtime';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface WorkerMetrics {
  registry: Registry;
  jobs: Counter<'queue' | 'name' | 'outcome'>;
  jobsRejected: Counter<'reason' | 'queue'>;
  jobSeconds: Histogram<'queue'>;
  queueDepth: Gauge<'queue' | 'state'>;
  withoutInstallation: Counter;
  orphanNamespacesDeleted: Counter;
  environmentsRedeployed: Counter;
  redeliveriesRequested: Counter;
  resyncCorrections: Counter<'kind'>;
  sameSecondResolved: Counter;
  gateWaitSeconds: Histogram;
  gateFailures: Counter<'reason'>;
  gatePolls: Counter;
}

export function createWorkerMetrics(): WorkerMetrics {
  const registry = createMetricsRegistry();
  return {
    registry,
    jobs: new Counter({
      name: 'worker_jobs_total',
      help: 'Jobs processed by queue, job name and outcome (completed, duplicate, stale, not_allowed, failed)',
      labelNames: ['queue', 'name', 'outcome'],
      registers: [registry],
    }),
    jobsRejected: new Counter({
      name: 'ephemera_jobs_rejected_total',
      help: 'Jobs refused before any handler ran because they carried no signature (missing) or one QUEUE_SIGNING_KEY did not make (invalid), by queue',
      labelNames: ['reason', 'queue'],
      registers: [registry],
    }),
    jobSeconds: new Histogram({
      name: 'worker_job_duration_seconds',
      help: 'Time to process a job',
      labelNames: ['queue'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'worker_queue_depth',
      help: 'Jobs per queue and state, read at scrape time',
      labelNames: ['queue', 'state'],
      registers: [registry],
    }),
    withoutInstallation: new Counter({
      name: 'worker_webhooks_without_installation_total',
      help: 'Deliveries from repository webhooks rather than the GitHub App (no feedback possible)',
      registers: [registry],
    }),
    orphanNamespacesDeleted: new Counter({
      name: 'ephemera_orphan_namespaces_deleted_total',
      help: 'Namespaces of this installation deleted by the sweep because their environment is gone or DESTROYED',
      registers: [registry],
    }),
    environmentsRedeployed: new Counter({
      name: 'ephemera_environments_redeployed_total',
      help: 'READY environments deployed again by the sweep because their namespace had vanished',
      registers: [registry],
    }),
    redeliveriesRequested: new Counter({
      name: 'ephemera_redeliveries_requested_total',
      help: 'Deliveries GitHub was asked to redeliver because they were never applied',
      registers: [registry],
    }),
    resyncCorrections: new Counter({
      name: 'ephemera_resync_corrections_total',
      help: 'Corrections made by the resync with GitHub, by kind (destroyed, applied, installation)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    sameSecondResolved: new Counter({
      name: 'ephemera_same_second_conflicts_resolved_total',
      help: 'Pull request events of the same second as the last applied one that disagreed with it, settled by asking GitHub',
      registers: [registry],
    }),
    gateWaitSeconds: new Histogram({
      name: 'ephemera_gate_wait_seconds',
      help: 'Time deployments waited for their commit\'s checks (deploy.wait_for), from waiting to the gate opening',
      buckets: [1, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600, 43200],
      registers: [registry],
    }),
    gateFailures: new Counter({
      name: 'ephemera_gate_failures_total',
      help: 'Deployments not deployed because of their deploy gate, by reason (check_failed, timeout, missing: a named check never appeared)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    gatePolls: new Counter({
      name: 'ephemera_gate_polls_total',
      help: 'Looks at a waiting deployment\'s checks queued by the poll pass (GATE_POLL_INTERVAL_MS), one per waiting deployment per pass',
      registers: [registry],
    }),
  };
}
