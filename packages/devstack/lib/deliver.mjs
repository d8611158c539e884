// @ts-check
// Signed deliveries of GitHub's example payloads to a running ingest, for the demo and the sample sender.
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

let examples;

/** A copy of GitHub's example `pull_request` payload for `action` that carries an App installation. */
export function pullRequestExample(action) {
  if (!examples) {
    const require = createRequire(new URL('../../testkit/package.json', import.meta.url));
    examples = JSON.parse(readFileSync(require.resolve('@octokit/webhooks-examples'), 'utf8')).find((d) => d.name === 'pull_request').examples;
  }
  return structuredClone(examples.find((e) => e.action === action && e.installation));
}

/** POSTs the payload to ingest as GitHub would, signed with `secret`; returns the response. */
export function sendSigned(ingestUrl, secret, event, payload) {
  const body = JSON.stringify(payload);
  return fetch(`${ingestUrl}/api/v1/webhooks/github`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': event,
      'x-github-delivery': randomUUID(),
      'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
    },
    body,
  });
}
