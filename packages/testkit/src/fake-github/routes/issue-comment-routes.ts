import type { Exchange } from '../exchange.js';
import type { FakeGithubState } from '../fake-github-state.js';

/** A pull request's issue comments: listed, posted, edited and deleted as the App's bot. */
export function issueCommentRoutes(state: FakeGithubState, ex: Exchange): boolean {
  const { method, path, body } = ex;
  const onIssue = /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/.exec(path);
  if (method === 'GET' && onIssue) return listComments(state, ex, onIssue);
  if (method === 'POST' && onIssue) {
    const [, owner, name, issue] = onIssue;
    const id = state.newId();
    state.comments.set(id, { body: String(body?.body ?? ''), repository: `${owner}/${name}`.toLowerCase(), issue: Number(issue) });
    return ex.send(201, { id, node_id: `IC_${id}`, body: body?.body, user: state.bot, html_url: `https://github.com/${owner}/${name}/pull/${issue}#issuecomment-${id}` });
  }
  const one = /^\/repos\/[^/]+\/[^/]+\/issues\/comments\/(\d+)$/.exec(path);
  if (!one) return false;
  const id = Number(one[1]);
  if (method === 'DELETE') {
    if (!state.comments.delete(id)) return ex.send(404, { message: 'Not Found' });
    return ex.send(204, undefined);
  }
  if (method === 'PATCH') {
    const existing = state.comments.get(id);
    if (!existing) return ex.send(404, { message: 'Not Found' });
    state.comments.set(id, { ...existing, body: String(body?.body ?? '') });
    return ex.send(200, { id, body: body?.body, user: state.bot });
  }
  return false;
}

function listComments(state: FakeGithubState, ex: Exchange, [, owner, name, issue]: RegExpExecArray): true {
  const repository = `${owner}/${name}`.toLowerCase();
  const list = [...state.comments.entries()].filter(([, c]) => c.repository === repository && c.issue === Number(issue));
  const perPage = Math.min(100, Number(ex.query.get('per_page') ?? 30));
  const page = Number(ex.query.get('page') ?? 1);
  const headers: Record<string, string> = {};
  if (page * perPage < list.length) headers.link = `<http://${ex.req.headers.host}${ex.path}?per_page=${perPage}&page=${page + 1}>; rel="next"`;
  return ex.send(
    200,
    list.slice((page - 1) * perPage, page * perPage).map(([id, c]) => ({ id, node_id: `IC_${id}`, body: c.body, user: state.bot, html_url: `https://github.com/${owner}/${name}/pull/${issue}#issuecomment-${id}` })),
    headers,
  );
}
