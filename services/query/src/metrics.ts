import { createMetricsRegistry, httpRequestsCounter } from '@ephemera/runtime';
import { Histogram, type Counter, type Registry } from 'prom-client';

export interface QueryMetrics {
  registry: Registry;
  requests: Counter<'route' | 'status'>;
  seconds: Histogram<'route'>;
}

export function createQueryMetrics(): QueryMetrics {
  const registry = createMetricsRegistry();
  return {
    registry,
    requests: httpRequestsCounter(registry, 'query'),
    seconds: new Histogram({
      name: 'query_http_request_duration_seconds',
      help: 'Request latency by route',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
}
