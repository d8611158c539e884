import { describe, expect, it } from '@jest/globals';
import { createMetricsRegistry, httpRequestsCounter } from '../src/index.js';

describe(createMetricsRegistry.name, () => {
  it('holds the process metrics, and counters of one registry are not another’s', async () => {
    const first = createMetricsRegistry();
    const second = createMetricsRegistry();
    httpRequestsCounter(first, 'query').inc({ route: '/x', status: '200' });
    httpRequestsCounter(second, 'query');
    expect(await first.metrics()).toMatch(/^process_cpu_user_seconds_total /m);
    expect(await first.metrics()).toMatch(/^query_http_requests_total\{route="\/x",status="200"\} 1$/m);
    expect(await second.metrics()).not.toMatch(/^query_http_requests_total\{/m);
  });
});
