#!/usr/bin/env node
// Sends GitHub's example `pull_request.opened` payload, signed, to a running ingest:
//   node packages/devstack/bin/send-sample.mjs [ingest URL] [secret]
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const url = process.argv[2] ?? 'http://localhost:3001';
const secret = process.argv[3] ?? process.env.GITHUB_WEBHOOK_SECRET ?? 'ephemera-development-secret';
const require = createRequire(new URL('../../testkit/package.json', import.meta.url));
const examples = JSON.parse(readFileSync(require.resolve('@octokit/webhooks-examples'), 'utf8'));
const payload = examples
  .find((d) => d.name === 'pull_request')
  .examples.find((e) => e.action === 'opened' && e.installation);
payload.pull_request.updated_at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const body = JSON.stringify(payload);
const res = await fetch(`${url}/api/v1/webhooks/github`, {
  method: 'POST',
  headers: {
    'content-type': 'application/json',
    'x-github-event': 'pull_request',
    'x-github-delivery': randomUUID(),
    'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
  },
  body,
});
process.stdout.write(`${res.status} ${await res.text()}\n`);
process.exit(res.ok ? 0 : 1);
