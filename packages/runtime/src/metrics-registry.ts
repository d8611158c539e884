import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * A registry of its own for an app, with the process's default metrics, so tests and several apps in one process do
 * not share counters.
 *
 * @example
 * const registry = createMetricsRegistry();
 * const requests = httpRequestsCounter(registry, 'query'); // query_http_requests_total
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** The HTTP requests a service answered, by route and status code: `<service>_http_requests_total`. */
export function httpRequestsCounter(registry: Registry, service: string): Counter<'route' | 'status'> {
  return new Counter({
    name: `${service}_http_requests_total`,
    help: 'HTTP requests by route and status code',
    labelNames: ['route', 'status'],
    registers: [registry],
  });
}
