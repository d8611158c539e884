import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { Express, NextFunction, Request, Response } from 'express';
import { constantTimeEqual } from '@ephemera/runtime';
import { AUTHORITY } from './access.js';
import { DEFAULT_LOGIN_LIMIT, limitFailedLogins, type CredentialCheck, type LoginLimit } from './login-limits.js';
import { problem } from './problem.js';

/** Where Bull Board (the queue board) is served. */
export const BULL_BOARD_PATH = '/admin/queues';

/** Bull Board's settings: the admin's credentials (ADMIN_USERNAME, ADMIN_PASSWORD), ADMIN_WRITE, failed logins allowed. */
export interface BullBoardOptions {
  username?: string | undefined;
  password?: string | undefined;
  write?: boolean | undefined;
  loginLimit?: LoginLimit | undefined;
}

/**
 * Mounts Bull Board over every queue at {@link BULL_BOARD_PATH}, behind basic auth, rate-limited failed logins and
 * the write guard. Without both credentials it is not mounted: the path falls through to the app's 404.
 */
export function mountBullBoard(app: Express, queues: readonly Queue[], options: BullBoardOptions): void {
  const { username, password, write = false, loginLimit = DEFAULT_LOGIN_LIMIT } = options;
  if (username === undefined || password === undefined) return;
  const board = new ExpressAdapter();
  board.setBasePath(BULL_BOARD_PATH);
  // Bull Board's own read-only mode hides the buttons that change queues; guardAdminWrites refuses the requests.
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: !write })), serverAdapter: board });
  const credentials = basicCredentials(username, password);
  app.use(BULL_BOARD_PATH, limitFailedLogins(credentials, loginLimit), requireBasicAuth(credentials), guardAdminWrites(write), board.getRouter());
}

/** A check of Bull Board's basic-auth credentials (both are required: without them it is not served). */
export function basicCredentials(username: string, password: string): CredentialCheck {
  const expected = `${username}:${password}`;
  return (req) => {
    const match = req.get('authorization')?.match(/^Basic\s+([A-Za-z0-9+/=]+)$/i);
    return match !== null && match !== undefined && constantTimeEqual(Buffer.from(match[1]!, 'base64').toString('utf8'), expected);
  };
}

/** HTTP basic auth for Bull Board: 401 with a challenge unless the request carries the credentials. */
export function requireBasicAuth(check: CredentialCheck) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (check(req)) return next();
    res.set('WWW-Authenticate', 'Basic realm="ephemera queues", charset="UTF-8"');
    return problem(res, 401, 'Unauthorized', 'Bull Board needs the admin user name and password');
  };
}

/** True when `source` (an Origin or Referer) is an http(s) URL whose host is the request's Host header. */
function fromSameHost(source: string | undefined, host: string | undefined): boolean {
  if (!source || !host || !AUTHORITY.test(host)) return false;
  try {
    const url = new URL(source);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    // Parsed under the same scheme, so a default port written out (":443", ":80") or not compares equal.
    return url.host === new URL(`${url.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

/**
 * Guards Bull Board's changes (every method but GET and HEAD): refused (403) unless writes are allowed
 * (ADMIN_WRITE=true), and then only from the same origin: an Origin header, or lacking one a Referer, whose host
 * is the request's Host header. Browsers send Origin with every such request, so a page elsewhere cannot make a
 * logged-in browser retry or remove jobs.
 */
export function guardAdminWrites(allowWrites: boolean) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method === 'GET' || req.method === 'HEAD') return next();
    if (!allowWrites) {
      return problem(res, 403, 'Forbidden', 'Bull Board is read-only: set ADMIN_WRITE=true to change queues and jobs from it');
    }
    const source = req.get('origin') ?? req.get('referer');
    if (!fromSameHost(source, req.headers.host)) {
      return problem(res, 403, 'Forbidden', 'changes to the queues must come from Bull Board\'s own origin: the Origin (or Referer) header must name this host');
    }
    return next();
  };
}
