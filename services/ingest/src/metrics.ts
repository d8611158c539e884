import { createMetricsRegistry, httpRequestsCounter } from '@ephemera/runtime';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface IngestMetrics {
  registry: Registry;
  requests: Counter<'route' | 'status'>;
  signatureFailures: Counter;
  deliveries: Counter<'event' | 'outcome'>;
  enqueueSeconds: Histogram;
  /** Requests answered 503 because the in-flight body budget (INGEST_MAX_INFLIGHT_BYTES) was taken. */
  inflightRefusals: Counter;
  /** Where the in-flight body bytes are read from when /metrics is scraped (nothing is done per request). */
  setInflightBytes(read: () => number): void;
}

/** The ingest service's metrics, in a registry of the app's own. */
export function createIngestMetrics(): IngestMetrics {
  const registry = createMetricsRegistry();
  let inflightBytes = () => 0;
  new Gauge({
    name: 'ingest_inflight_body_bytes',
    help: 'Bytes of request bodies being read or held before their signatures are checked (bounded by INGEST_MAX_INFLIGHT_BYTES)',
    registers: [registry],
    collect() {
      this.set(inflightBytes());
    },
  });
  return {
    registry,
    requests: httpRequestsCounter(registry, 'ingest'),
    signatureFailures: new Counter({
      name: 'ingest_webhook_signature_failures_total',
      help: 'Deliveries refused because X-Hub-Signature-256 was missing or wrong',
      registers: [registry],
    }),
    deliveries: new Counter({
      name: 'ingest_webhook_deliveries_total',
      help: 'Verified deliveries by event and outcome (queued, duplicate, ignored, pong, rejected, unavailable)',
      labelNames: ['event', 'outcome'],
      registers: [registry],
    }),
    enqueueSeconds: new Histogram({
      name: 'ingest_enqueue_duration_seconds',
      help: 'Time to store a delivery in Redis',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    inflightRefusals: new Counter({
      name: 'ingest_inflight_limit_refusals_total',
      help: 'Requests answered 503 because the bodies being read already took INGEST_MAX_INFLIGHT_BYTES',
      registers: [registry],
    }),
    setInflightBytes(read) {
      inflightBytes = read;
    },
  };
}
