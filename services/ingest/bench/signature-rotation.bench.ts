// pnpm exec tsx bench/signature-rotation.bench.ts — verifying a delivery during a secret rotation, two ways.
//
// `per-secret`: what SignatureVerifier does, one @octokit/webhooks instance per secret, each asked `verify`.
// `additionalSecrets`: one instance given the old secret in its `additionalSecrets` option. @octokit/webhooks 14
// honours that option only in `verifyAndReceive` (its `verify` checks the first secret alone), which parses the
// payload and dispatches it to the event handlers once the signature holds: ingest parses the payload itself after
// verifying, so that way it is parsed twice.
//
// The payload is GitHub's `pull_request.synchronize` example; deliveries signed with either secret are verified
// alternately, and each way is measured over the same number of deliveries, after a warm-up.
import { performance } from 'node:perf_hooks';
import { Webhooks } from '@octokit/webhooks';
import { signedDelivery, webhookExample } from '@ephemera/testkit';
import { SignatureVerifier } from '../src/signature-verifier.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20_000);
const SECRETS = ['new-secret-0123456789abcdef', 'old-secret-0123456789abcdef'];

const payload = webhookExample('pull_request', 'synchronize');
const deliveries = await Promise.all(
  SECRETS.map(async (secret) => {
    const d = await signedDelivery(secret, 'pull_request', payload);
    return { body: d.body, signature: d.headers['x-hub-signature-256']! };
  }),
);

const perSecret = new SignatureVerifier(SECRETS);
const withAdditional = new Webhooks({ secret: SECRETS[0]!, additionalSecrets: SECRETS.slice(1) });
const ways: Record<string, (body: string, signature: string) => Promise<boolean>> = {
  'per-secret': (body, signature) => perSecret.verify(body, signature),
  additionalSecrets: (body, signature) =>
    withAdditional.verifyAndReceive({ id: 'bench', name: 'pull_request', payload: body, signature }).then(
      () => true,
      () => false,
    ),
};

async function measure(verify: (body: string, signature: string) => Promise<boolean>, rounds: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < rounds; i++) {
    const d = deliveries[i % deliveries.length]!;
    if (!(await verify(d.body, d.signature))) throw new Error('a genuine delivery was refused');
  }
  return performance.now() - started;
}

console.log(`${ROUNDS} deliveries of ${Buffer.byteLength(deliveries[0]!.body)} bytes, ${SECRETS.length} secrets, half signed with each`);
for (const [name, verify] of Object.entries(ways)) {
  await measure(verify, Math.min(2_000, ROUNDS));
  const ms = await measure(verify, ROUNDS);
  console.log(`${name.padEnd(18)} ${((ms * 1000) / ROUNDS).toFixed(1).padStart(7)} µs per delivery  ${Math.round((ROUNDS / ms) * 1000)} per second`);
}
