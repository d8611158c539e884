#!/usr/bin/env node
// Sends GitHub's example `pull_request.opened` payload, signed, to a running ingest:
//   node packages/devstack/bin/send-sample.mjs [ingest URL] [secret]
import { pullRequestExample, sendSigned } from '../lib/deliver.mjs';

const url = process.argv[2] ?? 'http://localhost:3001';
const secret = process.argv[3] ?? process.env.GITHUB_WEBHOOK_SECRET?.split(',')[0]?.trim() ?? 'ephemera-development-secret';
const payload = pullRequestExample('opened');
payload.pull_request.updated_at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const res = await sendSigned(url, secret, 'pull_request', payload);
process.stdout.write(`${res.status} ${await res.text()}\n`);
process.exit(res.ok ? 0 : 1);
