import { createHash } from 'node:crypto';
import type { Exchange } from '../exchange.js';
import type { FakeGithubState } from '../fake-github-state.js';

/** Pull requests as the tests set them (`GET /repos/{o}/{r}/pulls`, `…/pulls/{n}`). */
export function pullRoutes(state: FakeGithubState, ex: Exchange): boolean {
  const m = ex.method === 'GET' ? /^\/repos\/([^/]+)\/([^/]+)\/pulls(?:\/(\d+))?$/.exec(ex.path) : null;
  if (!m) return false;
  const byNumber = state.pulls.get(`${m[1]}/${m[2]}`.toLowerCase()) ?? new Map<number, Record<string, unknown>>();
  if (m[3]) {
    const pr = byNumber.get(Number(m[3]));
    return pr ? ex.send(200, pr) : ex.send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/pulls/pulls#get-a-pull-request' });
  }
  const wanted = ex.query.get('state') ?? 'open';
  const perPage = Math.min(100, Number(ex.query.get('per_page') ?? 30));
  const page = Number(ex.query.get('page') ?? 1);
  const all = [...byNumber.values()].filter((p) => wanted === 'all' || p.state === wanted).sort((a, b) => Number(b.number) - Number(a.number));
  const body = all.slice((page - 1) * perPage, page * perPage);
  // Conditional requests: an unchanged list answers 304 and costs no rate limit, as GitHub's do.
  const etag = `W/"${createHash('sha1').update(JSON.stringify(body)).digest('hex')}"`;
  const headers: Record<string, string> = { etag };
  if (page * perPage < all.length) headers.link = `<http://${ex.req.headers.host}${ex.path}?state=${wanted}&per_page=${perPage}&page=${page + 1}>; rel="next"`;
  if (ex.req.headers['if-none-match'] === etag) {
    ex.res.writeHead(304, headers);
    ex.res.end();
    return true;
  }
  return ex.send(200, body, headers);
}
