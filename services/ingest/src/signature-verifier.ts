import { Webhooks } from '@octokit/webhooks';

/**
 * Checks X-Hub-Signature-256 against every configured secret (constant-time, by @octokit/webhooks), so a
 * secret can be rotated without downtime: configure old and new, switch the App over, then drop the old one.
 *
 * One @octokit/webhooks instance per secret rather than one with `additionalSecrets`: in @octokit/webhooks 14 that
 * option is honoured only by `verifyAndReceive`, which also parses the payload and dispatches it to handlers, and
 * ingest parses it itself once verified. Measured (bench/signature-rotation.bench.ts, 24 KB deliveries, two
 * secrets): 160-285 µs a delivery this way against 210-345 µs through `verifyAndReceive`. It also stops at the
 * first secret that matches, where this tries them all (see verify).
 */
export class SignatureVerifier {
  private readonly verifiers: Webhooks[];

  constructor(secrets: readonly string[]) {
    if (secrets.length === 0) throw new Error('at least one webhook secret is required');
    this.verifiers = secrets.map((secret) => new Webhooks({ secret }));
  }

  /** `payload` is the raw body decoded as UTF-8; `signature` the header value (`sha256=<hex>`). */
  async verify(payload: string, signature: string): Promise<boolean> {
    if (!/^sha256=[0-9a-f]{64}$/.test(signature) || payload.length === 0) return false;
    // Every secret is tried even after a match, so the time taken does not tell which one matched.
    const results = await Promise.all(this.verifiers.map((v) => v.verify(payload, signature).catch(() => false)));
    return results.includes(true);
  }
}
