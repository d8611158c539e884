import { createHash } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { rateLimit, type RateLimitRequestHandler } from 'express-rate-limit';
import { constantTimeEqual, constantTimeIncludes, constantTimeIndexOf } from '@ephemera/runtime';
import { problem } from './problem.js';

/**
 * Whether `given` (from a request: any type) is the expected token, compared in constant time (hashed first, so the
 * lengths do not show); never when there is no expected token.
 */
export function sameToken(given: unknown, expected: string | undefined): boolean {
  if (typeof given !== 'string' || !expected) return false;
  return constantTimeEqual(given, expected);
}

/** A Host header that can stand in a URL's authority: a name or address and an optional port. */
export const AUTHORITY = /^(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** `token`: API_TOKENS are required. `none`: the API is open, which applies only while there are no tokens. */
export type ApiAuth = 'token' | 'none';

/** The bearer token of an Authorization header, or undefined when there is none or it is not `Bearer <token>`. */
function bearerToken(req: Request): string | undefined {
  return req.get('authorization')?.match(/^Bearer\s+(\S+)$/i)?.[1];
}

function askForToken(res: Response, detail: string): void {
  res.set('WWW-Authenticate', 'Bearer realm="ephemera"');
  problem(res, 401, 'Unauthorized', detail);
}

/**
 * Bearer-token guard for the API's reads. No or malformed Authorization: 401. A token that is not one of the
 * tokens: 403. `writeTokens` (API_WRITE_TOKENS) may read as well. Open only when there are no read tokens and
 * `auth` is `none` (given read tokens always apply); no token of either kind otherwise is a programming error,
 * which configuration validation keeps from happening.
 */
export function requireApiToken(tokens: readonly string[], auth: ApiAuth = 'token', writeTokens: readonly string[] = []) {
  if (tokens.length === 0 && writeTokens.length === 0 && auth !== 'none') {
    throw new Error('requireApiToken: no API tokens; pass auth "none" to serve the API without authentication on purpose');
  }
  const open = tokens.length === 0 && auth === 'none';
  const accepted = [...tokens, ...writeTokens];
  return (req: Request, res: Response, next: NextFunction) => {
    if (open) return next();
    const token = bearerToken(req);
    if (token === undefined) return askForToken(res, 'an API token is required: Authorization: Bearer <token>');
    if (!constantTimeIncludes(accepted, token)) return problem(res, 403, 'Forbidden', 'the API token is not valid');
    return next();
  };
}

/**
 * What job data and logs name a write token by, since it has no name of its own: a few hex digits of its SHA-256,
 * enough to tell an operator's tokens apart and far too few to recover the token (which configuration requires
 * to be long in production).
 */
function tokenLogin(token: string): string {
  return `token:${createHash('sha256').update(token).digest('hex').slice(0, 6)}`;
}

/**
 * Guard of the API's actions: only a token of API_WRITE_TOKENS passes, whatever API_AUTH says, and the requester
 * it stands for is left in `res.locals.requester` for the job. No or malformed Authorization: 401. Any other
 * token, a read token of API_TOKENS included: 403. Without write tokens every request is refused, so the actions
 * are closed unless they were given on purpose. A token in both lists is a programming error, which configuration
 * validation keeps from happening: which of the two it is would depend on the order of the checks.
 */
export function requireWriteToken(writeTokens: readonly string[], readTokens: readonly string[] = []) {
  const readSet = new Set(readTokens);
  if (writeTokens.some((t) => readSet.has(t))) throw new Error('requireWriteToken: a token is both a read and a write token');
  const requesters = writeTokens.map((token) => ({ kind: 'token' as const, login: tokenLogin(token) }));
  return (req: Request, res: Response, next: NextFunction) => {
    const token = bearerToken(req);
    if (token === undefined) return askForToken(res, 'this action needs a write token: Authorization: Bearer <one of API_WRITE_TOKENS>');
    const found = constantTimeIndexOf(writeTokens, token);
    if (found !== -1) {
      res.locals.requester = requesters[found];
      return next();
    }
    if (writeTokens.length === 0) {
      return problem(res, 403, 'Forbidden', 'the write API is off: the service has no API_WRITE_TOKENS');
    }
    return problem(res, 403, 'Forbidden', constantTimeIncludes(readTokens, token) ? 'this API token can only read: actions need one of API_WRITE_TOKENS' : 'the API token is not valid');
  };
}

export interface ActionLimit {
  /** Actions a write token may ask for within the window; the next one gets 429. */
  limit: number;
  windowMs: number;
}

export const DEFAULT_ACTION_LIMIT: ActionLimit = { limit: 30, windowMs: 60_000 };

/**
 * Rate-limits the actions per write token (express-rate-limit's memory store, so per process), after
 * {@link requireWriteToken}: a leaked token can queue only so much work for the worker before it is revoked.
 * Every action asked for counts, those for unknown environments and those that do not apply too, since each
 * costs the database a read.
 */
export function limitActions({ limit, windowMs }: ActionLimit = DEFAULT_ACTION_LIMIT): RateLimitRequestHandler {
  return rateLimit({
    windowMs,
    limit,
    keyGenerator: (_req, res) => (res.locals.requester as { login: string } | undefined)?.login ?? 'anonymous',
    standardHeaders: false,
    legacyHeaders: false,
    handler: (req, res) => {
      const seconds = secondsUntil((req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime, windowMs);
      res.set('Retry-After', String(seconds));
      problem(res, 429, 'Too Many Requests', `too many actions with this token: try again in ${seconds} s`);
    },
  });
}

/** Whole seconds until `resetTime` (a window from now when unknown), at least one, for Retry-After. */
export function secondsUntil(resetTime: Date | undefined, windowMs: number): number {
  return Math.max(1, Math.ceil(((resetTime?.getTime() ?? Date.now() + windowMs) - Date.now()) / 1000));
}
