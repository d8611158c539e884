import { createHmac } from 'node:crypto';
import { constantTimeIncludes } from './constant-time.js';

/**
 * The field of a job's data that carries its signature, on every queue. The payload is the rest of the data, so a
 * signed job reads as it did before (in Bull Board, in a handler's schema) with one field more.
 */
export const JOB_SIGNATURE_FIELD = '$signature';

/** The shortest QUEUE_SIGNING_KEY (and QUEUE_SIGNING_KEY_PREVIOUS) accepted, in bytes. */
export const MIN_QUEUE_SIGNING_KEY_BYTES = 32;

/** Why a job was refused: it carries no signature, or one no accepted key made. */
export type JobRefusalReason = 'missing' | 'invalid';

export type JobVerdict = { ok: true; payload: Record<string, unknown> } | { ok: false; reason: JobRefusalReason };

/** What a signature looks like: the scheme's version and the HMAC-SHA256 in hex. */
const SIGNATURE = /^v1=([0-9a-f]{64})$/;

/**
 * Signs and verifies queue jobs with QUEUE_SIGNING_KEY, so that the worker acts only on jobs that ingest, the query
 * service or the worker itself wrote, not on whatever else reaches Redis. The HMAC covers the queue, the job's name
 * and its payload in a canonical form (keys sorted, after the JSON round trip BullMQ puts it through), so what
 * Redis gives back verifies exactly when it is what was signed.
 *
 * Verification accepts QUEUE_SIGNING_KEY_PREVIOUS as well, for a rotation; signing always uses the current key.
 * A signature only proves where a job came from: a copy of a signed job verifies too, and is made harmless by the
 * ids every job is applied under once (delivery ids, request ids, deployment ids).
 *
 * @example const signer = new JobSigner(config.QUEUE_SIGNING_KEY); await queue.add(name, signer.sign(queue.name, name, data), opts)
 */
export class JobSigner {
  private readonly key: Buffer;
  private readonly accepted: readonly Buffer[];

  constructor(key: string, previous?: string) {
    this.key = signingKey(key, 'QUEUE_SIGNING_KEY');
    this.accepted = previous === undefined ? [this.key] : [this.key, signingKey(previous, 'QUEUE_SIGNING_KEY_PREVIOUS')];
  }

  /** The job's data with its signature; a signature the data already carries is replaced. */
  sign<T extends object>(queue: string, name: string, data: T): T & { [JOB_SIGNATURE_FIELD]: string } {
    const { [JOB_SIGNATURE_FIELD]: _replaced, ...payload } = data as Record<string, unknown>;
    const signature = `v1=${mac(this.key, queue, name, roundTripped(payload)).toString('hex')}`;
    return { ...(payload as T), [JOB_SIGNATURE_FIELD]: signature };
  }

  /** The payload (the data without its signature) when a key made the signature; why not otherwise. */
  verify(queue: string, name: string, data: unknown): JobVerdict {
    if (data === null || typeof data !== 'object' || Array.isArray(data) || !(JOB_SIGNATURE_FIELD in data)) return { ok: false, reason: 'missing' };
    const { [JOB_SIGNATURE_FIELD]: signature, ...payload } = data as Record<string, unknown>;
    const hex = typeof signature === 'string' ? SIGNATURE.exec(signature)?.[1] : undefined;
    if (hex === undefined) return { ok: false, reason: 'invalid' };
    const given = Buffer.from(hex, 'hex');
    const expected = roundTripped(payload);
    // Every key is tried, so the time taken does not tell which (if any) matched.
    const macs = this.accepted.map((key) => mac(key, queue, name, expected));
    return constantTimeIncludes(macs, given) ? { ok: true, payload } : { ok: false, reason: 'invalid' };
  }
}

function signingKey(key: string, variable: string): Buffer {
  const bytes = Buffer.from(key, 'utf8');
  if (bytes.length < MIN_QUEUE_SIGNING_KEY_BYTES) throw new Error(`${variable} must be at least ${MIN_QUEUE_SIGNING_KEY_BYTES} bytes`);
  return bytes;
}

function mac(key: Buffer, queue: string, name: string, payload: unknown): Buffer {
  // One JSON array, so no choice of queue, name or payload can pass for another's.
  return createHmac('sha256', key).update(canonicalJson(['ephemera-job/1', queue, name, payload])).digest();
}

/** The value as BullMQ gives it back: JSON drops undefined fields and turns dates into strings. */
function roundTripped(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}

/** JSON with every object's keys in sorted order, so the same value always has the same text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    return `{${Object.keys(object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(object[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
