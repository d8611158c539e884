import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { ingestConfigSchema } from '../../../services/ingest/src/config.js';
import { queryConfigSchema } from '../../../services/query/src/config.js';
import { workerConfigSchema } from '../../../services/worker/src/config.js';

// README.md's settings table is where an operator looks a setting up: each one a service reads is there, saying
// which services read it, so a setting cannot be added to a service without being documented.

const README = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
/** The table's rows: the settings a row names, and the services it says read them. */
const ROWS = README.split('\n')
  .filter((line) => /^\| `[A-Z]/.test(line))
  .map((line) => {
    const [, names, , readers] = line.split('|');
    return { names: [...names!.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]!), readers: readers!.split(',').map((r) => r.trim()) };
  });

describe("README.md's settings table", () => {
  it.each([
    ['ingest', ingestConfigSchema],
    ['worker', workerConfigSchema],
    ['query', queryConfigSchema],
  ] as const)('names every setting %s reads, as read by it', (service, schema) => {
    const undocumented = Object.keys(schema.shape).filter((key) => !ROWS.some((r) => r.names.includes(key) && (r.readers.includes(service) || r.readers.includes('all'))));
    expect(undocumented).toEqual([]);
  });
});
