import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { problem } from './problem.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Compares against every candidate in constant time (hashing first evens out the lengths). */
function matchesAny(given: string, candidates: readonly Buffer[]): boolean {
  const g = digest(given);
  let match = false;
  for (const c of candidates) match = timingSafeEqual(g, c) || match;
  return match;
}

/**
 * Bearer-token guard for the API. No tokens configured: everything passes (the service warned at start).
 * No or malformed Authorization: 401. A token that is not one of API_TOKENS: 403.
 */
export function requireApiToken(tokens: readonly string[]) {
  const hashed = tokens.map(digest);
  return (req: Request, res: Response, next: NextFunction) => {
    if (hashed.length === 0) return next();
    const header = req.get('authorization');
    const match = header?.match(/^Bearer\s+(\S+)$/i);
    if (!match) {
      res.set('WWW-Authenticate', 'Bearer realm="ephemera"');
      return problem(res, 401, 'Unauthorized', 'an API token is required: Authorization: Bearer <token>');
    }
    if (!matchesAny(match[1]!, hashed)) return problem(res, 403, 'Forbidden', 'the API token is not valid');
    return next();
  };
}

/** HTTP basic auth for the dashboard; open when no credentials are configured (development only). */
export function requireBasicAuth(username: string | undefined, password: string | undefined) {
  const expected = username !== undefined && password !== undefined ? [digest(`${username}:${password}`)] : [];
  return (req: Request, res: Response, next: NextFunction) => {
    if (expected.length === 0) return next();
    const header = req.get('authorization');
    const match = header?.match(/^Basic\s+([A-Za-z0-9+/=]+)$/i);
    const given = match ? Buffer.from(match[1]!, 'base64').toString('utf8') : null;
    if (given === null || !matchesAny(given, expected)) {
      res.set('WWW-Authenticate', 'Basic realm="ephemera queues", charset="UTF-8"');
      return problem(res, 401, 'Unauthorized', 'the queue dashboard needs the admin user name and password');
    }
    return next();
  };
}
