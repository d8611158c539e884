// The process runLoad starts: reads LoadOptions as JSON on stdin, runs autocannon, writes LoadFigures as JSON.
import { randomUUID } from 'node:crypto';
import { text } from 'node:stream/consumers';
import autocannon from 'autocannon';
import type { LoadFigures, LoadOptions } from './load-generator.js';

const options = JSON.parse(await text(process.stdin)) as LoadOptions;
if (options.paths.length === 0) throw new Error('no paths to load');
let next = 0;
const result = await autocannon({
  url: options.origin,
  connections: options.connections,
  duration: options.durationSeconds,
  method: options.method ?? 'GET',
  ...(options.headers ? { headers: options.headers } : {}),
  ...(options.body !== undefined ? { body: options.body } : {}),
  requests: [
    {
      setupRequest: (req) => {
        req.path = options.paths[next++ % options.paths.length]!;
        if (options.uniqueHeader) req.headers = { ...req.headers, [options.uniqueHeader]: randomUUID() };
        return req;
      },
    },
  ],
});
const figures: LoadFigures = {
  rps: result.requests.average,
  p50: result.latency.p50,
  p99: result.latency.p99,
  ok: result['2xx'],
  other: result.non2xx + result.errors + result.timeouts,
};
process.stdout.write(JSON.stringify(figures));
