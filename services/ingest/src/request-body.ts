import type { Request, Response } from 'express';
import { MAX_BODY_BYTES } from './replies.js';

/**
 * Answers a request refused before its body was kept, once the rest of the body has been read off and
 * discarded (as express's body parsers do): a connection closed with bytes still unread is reset, and a
 * sender that asked for `Connection: close` would never see its answer. Nothing of the body is held, and it
 * takes no part of the in-flight budget; a client that stops sending meets the server's request timeout.
 */
export function afterBody(req: Request, res: Response, answer: () => void): void {
  if (req.readableEnded) return answer();
  req.on('end', () => {
    if (!res.headersSent && !res.destroyed) answer();
  });
  req.resume();
}

/**
 * The bytes of request bodies being read or held, across every request of an app. A request takes its share
 * before reading (its Content-Length, or each chunk as it arrives when it has none) and gives it back when it
 * is answered or its connection closes.
 */
export class InflightBudget {
  used = 0;
  constructor(readonly max: number) {}

  /**
   * Takes `bytes` for a request already holding `held`, if they fit. A request holding everything in use may
   * always take more (up to GitHub's 25 MB cap, checked by the caller): a genuine delivery larger than a small
   * budget is read alone rather than refused for ever.
   */
  take(bytes: number, held: number): boolean {
    if (this.used + bytes > this.max && this.used !== held) return false;
    this.used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.used -= bytes;
  }
}

export type BodyOutcome = Buffer | 'too-large' | 'busy' | 'aborted';

export interface BodyHandlers {
  /** Asked before each chunk is kept. */
  take(bytes: number): boolean;
  /** What was kept has been dropped: the body is refused, and its rest is read off without being kept. */
  dropped(reason: 'too-large' | 'busy'): void;
  /** Called once, when the body has ended (or the request was aborted): the body, or why there is none. */
  done(outcome: BodyOutcome): void;
}

/**
 * Reads a request's body. Once `take` says no, or the body passes {@link MAX_BODY_BYTES}, what was kept is
 * dropped and the rest of the body is read off and discarded, never held; the refusal is given when the body
 * has ended, so that the sender sees it (see {@link afterBody}).
 */
export function readBody(req: Request, handlers: BodyHandlers): void {
  let chunks: Buffer[] = [];
  let received = 0;
  let settled = false;
  let refusal: 'too-large' | 'busy' | undefined;
  const settle = (outcome: BodyOutcome) => {
    if (settled) return;
    settled = true;
    chunks = [];
    handlers.done(outcome);
  };
  const drop = (reason: 'too-large' | 'busy') => {
    refusal = reason;
    chunks = [];
    handlers.dropped(reason);
  };
  req.on('data', (chunk: Buffer) => {
    if (settled || refusal) return;
    received += chunk.length;
    if (received > MAX_BODY_BYTES) return drop('too-large');
    if (!handlers.take(chunk.length)) return drop('busy');
    chunks.push(chunk);
  });
  // Copied into a buffer of its own even when it came in one chunk: a chunk can be a view of a larger buffer.
  req.on('end', () => settle(refusal ?? Buffer.concat(chunks, received)));
  req.on('error', () => settle('aborted'));
  req.on('close', () => settle('aborted'));
}
