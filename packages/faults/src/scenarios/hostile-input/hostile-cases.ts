import fc from 'fast-check';
import { HANDLED_EVENTS } from '@ephemera/schema';
import { pullRequestPayload, webhookExample } from '@ephemera/testkit';
import { httpPost, type Answer } from '../../hostile-requests.js';
import { ALLOWED_ACCOUNT } from '../../service-env.js';
import { REAL, goodHeaders, signature, type Signing } from './signing.js';

/** One hostile request: what is sent, and whether this particular request is signed with the real secret. */
export type Case =
  | { kind: 'random-body'; body: Uint8Array; sign: Signing; event: string; deliveryId: string; contentType: string }
  | { kind: 'truncated-payload'; cut: number }
  | { kind: 'flipped-payload'; flips: Array<{ at: number; byte: number }>; sign: Exclude<Signing, 'valid'> }
  | { kind: 'invalid-utf8'; bad: readonly number[]; at: number }
  | { kind: 'deep-json'; depth: number; shape: 'array' | 'object' }
  | { kind: 'bad-header'; name: string; value: Buffer }
  | { kind: 'garbage-request'; head: Uint8Array }
  | { kind: 'other-account'; login: string; event: AccountEvent; action: number };

type AccountEvent = 'pull_request' | 'installation' | 'installation_repositories';

const signing = fc.constantFrom<Signing>('none', 'valid', 'wrong-secret', 'other-body', 'sha1-only', 'garbage');
export const caseArbitrary: fc.Arbitrary<Case> = fc.oneof(
  fc.record({
    kind: fc.constant('random-body' as const),
    body: fc.uint8Array({ maxLength: 4096 }),
    sign: signing,
    event: fc.oneof(fc.constant('pull_request'), fc.string({ maxLength: 80 })),
    deliveryId: fc.oneof(fc.uuid(), fc.string({ maxLength: 60 })),
    contentType: fc.oneof(fc.constant('application/json'), fc.constant('application/x-www-form-urlencoded'), fc.string({ maxLength: 40 })),
  }),
  fc.record({ kind: fc.constant('truncated-payload' as const), cut: fc.nat({ max: REAL.length - 1 }) }),
  fc.record({
    kind: fc.constant('flipped-payload' as const),
    flips: fc.array(fc.record({ at: fc.nat({ max: REAL.length - 1 }), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 8 }),
    sign: fc.constantFrom('none', 'wrong-secret', 'other-body', 'sha1-only', 'garbage') as fc.Arbitrary<Exclude<Signing, 'valid'>>,
  }),
  fc.record({
    kind: fc.constant('invalid-utf8' as const),
    bad: fc.constantFrom([0xc3], [0xff], [0xfe, 0xfe], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82], [0xc0, 0xaf]),
    at: fc.nat({ max: 200 }),
  }),
  fc.record({
    kind: fc.constant('deep-json' as const),
    depth: fc.integer({ min: 100, max: 200_000 }),
    shape: fc.constantFrom('array' as const, 'object' as const),
  }),
  fc.record({
    kind: fc.constant('bad-header' as const),
    name: fc.constantFrom('X-GitHub-Event', 'X-GitHub-Delivery', 'X-Hub-Signature-256', 'X-Anything', 'Content-Type'),
    value: fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => Buffer.from(b)),
      fc.integer({ min: 17_000, max: 120_000 }).map((n) => Buffer.alloc(n, 'a')),
    ),
  }),
  // Heads of nothing but CR and LF are left out: HTTP lets a server skip blank lines before a request line
  // (RFC 9112, 2.2), so ingest rightly waits for one and answers 408 only at its 30 s request timeout.
  fc.record({
    kind: fc.constant('garbage-request' as const),
    head: fc.uint8Array({ minLength: 1, maxLength: 2048 }).filter((h) => h.some((b) => b !== 0x0d && b !== 0x0a)),
  }),
  // Genuine, correctly signed deliveries from accounts outside ALLOWED_ACCOUNTS, look-alikes of the allowed one
  // among them: `ignored`, nothing stored.
  fc.record({
    kind: fc.constant('other-account' as const),
    login: fc
      .oneof(
        fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,38}$/),
        fc.constantFrom(`${ALLOWED_ACCOUNT}-org`, `x${ALLOWED_ACCOUNT}`, `${ALLOWED_ACCOUNT.toLowerCase()}0`),
      )
      .filter((login) => login.toLowerCase() !== ALLOWED_ACCOUNT.toLowerCase()),
    event: fc.constantFrom<AccountEvent>('pull_request', 'installation', 'installation_repositories'),
    action: fc.nat(),
  }),
);

/** The bytes of a case's request. */
export async function requestOf(port: number, c: Case): Promise<Buffer> {
  switch (c.kind) {
    case 'random-body': {
      const body = Buffer.from(c.body);
      return httpPost(port, { 'Content-Type': c.contentType, 'X-GitHub-Event': c.event, 'X-GitHub-Delivery': c.deliveryId, ...(signature(c.sign, body)) }, body);
    }
    case 'truncated-payload': {
      const body = REAL.subarray(0, c.cut);
      return httpPost(port, { ...goodHeaders(), ...(signature('valid', body)) }, body);
    }
    case 'flipped-payload': {
      const body = Buffer.from(REAL);
      for (const f of c.flips) body[f.at] = f.byte;
      return httpPost(port, { ...goodHeaders(), ...(signature(c.sign, body)) }, body);
    }
    case 'invalid-utf8': {
      // Inside the title string, so the JSON stays well-formed apart from the encoding.
      const at = REAL.indexOf('"title":"') + 9 + Math.min(c.at, 3);
      const body = Buffer.concat([REAL.subarray(0, at), Buffer.from(c.bad), REAL.subarray(at)]);
      return httpPost(port, { ...goodHeaders(), ...(signature('valid', body)) }, body);
    }
    case 'deep-json': {
      const text =
        c.shape === 'array'
          ? '['.repeat(c.depth) + ']'.repeat(c.depth)
          : `{"action":"opened","nested":${'{"a":'.repeat(c.depth)}1${'}'.repeat(c.depth)}}`;
      const body = Buffer.from(text);
      return httpPost(port, { ...goodHeaders(), ...(signature('valid', body)) }, body);
    }
    case 'bad-header': {
      // Signed with the wrong secret, so that even a header the server can read leaves nothing acceptable.
      const body = REAL;
      return httpPost(port, { ...goodHeaders(), ...(signature('wrong-secret', body)), [c.name]: c.value }, body);
    }
    case 'garbage-request':
      return Buffer.concat([Buffer.from(c.head), Buffer.from('\r\n\r\n')]);
    case 'other-account': {
      const body = Buffer.from(JSON.stringify(otherAccountPayload(c)));
      return httpPost(port, { ...goodHeaders(), 'X-GitHub-Event': c.event, ...signature('valid', body) }, body);
    }
  }
}

/** A handled event of the case's kind, belonging to the case's account. */
function otherAccountPayload(c: Extract<Case, { kind: 'other-account' }>): unknown {
  const actions = HANDLED_EVENTS[c.event];
  const action = actions[c.action % actions.length]!;
  if (c.event === 'pull_request') return pullRequestPayload({ action, number: 910_000 + (c.action % 1000), repository: `${c.login}/repo` });
  const p = structuredClone(webhookExample(c.event, action)) as { installation: { account: { login: string } } };
  p.installation.account.login = c.login;
  return p;
}

/** The status codes a case must get where its kind decides it. */
function expectedStatuses(c: Case): number[] | undefined {
  switch (c.kind) {
    case 'truncated-payload':
    case 'deep-json':
    case 'garbage-request':
    case 'invalid-utf8':
      return [400];
    case 'flipped-payload':
      // 400 when a flip left the body invalid UTF-8 (refused before the signature is checked), 401 otherwise.
      return [400, 401];
    case 'bad-header':
      return c.value.length > 16 * 1024 ? [431] : undefined;
    case 'random-body':
      return undefined;
    case 'other-account':
      return [202];
  }
}

/** An answer a hostile request may get: a 4xx with a JSON error, or a 2xx that stored nothing (`ignored`). */
export function acceptable(answer: Answer, c?: Case): boolean {
  if (typeof answer.status !== 'number') return false;
  const expected = c && expectedStatuses(c);
  if (expected && !expected.includes(answer.status)) return false;
  if (answer.status >= 400 && answer.status < 500) return /"error"/.test(answer.body);
  if (answer.status >= 200 && answer.status < 300) {
    return c?.kind === 'other-account' ? /"status":"ignored"/.test(answer.body) : /"status":"(ignored|pong)"/.test(answer.body);
  }
  return false;
}
