import type http from 'node:http';
import type { FakeGithubState } from './fake-github-state.js';

type Headers = Record<string, string>;

/** One request to the fake GitHub, parsed, with the ways to answer it; every answer returns `true` (handled). */
export interface Exchange {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  method: string;
  path: string;
  search: string | undefined;
  /** The query string's parameters. */
  query: URLSearchParams;
  body: Record<string, unknown> | null;
  unparsable: boolean;
  /** Whether the request is authenticated as the App (a JSON web token). */
  jwt: boolean;
  /** The whole request URL, on the host it was sent to. */
  url(): URL;
  send(status: number, payload: unknown, headers?: Headers): true;
  sendText(status: number, text: string, headers?: Headers): true;
  sendHtml(status: number, html: string): true;
  /** A browser redirect, with the little page GitHub sends along. */
  redirect(location: string): true;
}

/** GitHub's answer to an App endpoint asked without the App's JSON web token. */
export const NOT_A_JWT = { message: 'A JSON web token could not be decoded' };

/**
 * Secrets a client sends in a body, masked in `requests` so that test output printing recorded requests never shows
 * them; that they were sent still shows.
 */
const SECRET_FIELDS = ['client_secret', 'refresh_token', 'access_token'];
function masked(body: Record<string, unknown> | null): Record<string, unknown> | null {
  if (!body || typeof body !== 'object' || !SECRET_FIELDS.some((f) => f in body)) return body;
  return Object.fromEntries(Object.entries(body).map(([k, v]) => [k, SECRET_FIELDS.includes(k) ? '[masked]' : v]));
}

/** The request's body: JSON, or form-encoded as the token endpoint also takes, as GitHub's does. */
function parsedBody(req: http.IncomingMessage, raw: string): { body: Record<string, unknown> | null; unparsable: boolean } {
  const form = /^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '');
  try {
    if (!raw) return { body: null, unparsable: false };
    return { body: form ? Object.fromEntries(new URLSearchParams(raw)) : (JSON.parse(raw) as Record<string, unknown>), unparsable: false };
  } catch {
    return { body: null, unparsable: true };
  }
}

/** The exchange for a request whose body has been read as `raw`, recorded in the fake's `requests`. */
export function exchangeOf(state: FakeGithubState, req: http.IncomingMessage, res: http.ServerResponse, raw: string): Exchange {
  const [path, search] = (req.url ?? '/').split('?') as [string, string | undefined];
  const { body, unparsable } = parsedBody(req, raw);
  state.requests.push({ method: req.method ?? 'GET', path, body: masked(body), authorization: req.headers.authorization, at: Date.now() });
  const authorization = req.headers.authorization ?? '';
  const write = (status: number, contentType: string, text: string, headers: Headers = {}): true => {
    res.writeHead(status, { 'content-type': contentType, ...headers });
    res.end(text);
    return true;
  };
  return {
    req,
    res,
    method: req.method ?? 'GET',
    path,
    search,
    query: new URLSearchParams(search ?? ''),
    body,
    unparsable,
    // A user or installation token sent as `Bearer` is no JSON web token, though the scheme is the same.
    jwt: /^bearer /i.test(authorization) && !/^bearer gh[a-z]_/i.test(authorization),
    url: () => new URL(req.url ?? '/', `http://${req.headers.host}`),
    send: (status, payload, headers = {}) =>
      write(status, 'application/json; charset=utf-8', payload === undefined ? '' : JSON.stringify(payload), { 'x-github-request-id': `fake-${state.requests.length}`, ...headers }),
    sendText: (status, text, headers = {}) => write(status, 'text/plain; charset=utf-8', text, headers),
    sendHtml: (status, html) => write(status, 'text/html; charset=utf-8', html),
    redirect: (location) =>
      write(302, 'text/html; charset=utf-8', `<html><body>You are being <a href="${location.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}">redirected</a>.</body></html>`, { location }),
  };
}

/** An area of the API: answers the requests it serves and says whether it did. */
export type Route = (state: FakeGithubState, ex: Exchange) => boolean;
