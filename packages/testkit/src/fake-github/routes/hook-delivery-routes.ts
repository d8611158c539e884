import { NOT_A_JWT, type Exchange } from '../exchange.js';
import type { FakeGithubState } from '../fake-github-state.js';
import { attemptDelivery, listedDelivery } from '../webhook-deliveries.js';

/** The App's delivery log (`GET /app/hook/deliveries`, `…/{id}`) and redelivery (`POST …/{id}/attempts`). */
export function hookDeliveryRoutes(state: FakeGithubState, ex: Exchange): boolean {
  if (ex.method === 'GET' && ex.path === '/app/hook/deliveries') return listDeliveries(state, ex);
  const m = /^\/app\/hook\/deliveries\/(\d+)(\/attempts)?$/.exec(ex.path);
  if (!m) return false;
  if (!ex.jwt) return ex.send(401, NOT_A_JWT);
  const found = state.deliveries.find((d) => d.id === Number(m[1]));
  if (!found) return ex.send(404, { message: 'Not Found' });
  if (ex.method === 'GET' && !m[2]) return ex.send(200, { ...listedDelivery(found), url: state.webhook?.url ?? '', request: { headers: {}, payload: found.payload }, response: { headers: {}, payload: null } });
  if (ex.method === 'POST' && m[2]) {
    setImmediate(() => void attemptDelivery(state, found.event, found.payload, found.guid, true, false));
    return ex.send(202, {});
  }
  return false;
}

function listDeliveries(state: FakeGithubState, ex: Exchange): true {
  if (!ex.jwt) return ex.send(401, NOT_A_JWT);
  // Newest first; the cursor is where the next page starts.
  const q = ex.query;
  const perPage = Math.min(100, Number(q.get('per_page') ?? 30));
  const newestFirst = [...state.deliveries].reverse();
  const from = q.get('cursor') ? newestFirst.findIndex((d) => `v1_${d.id}` === q.get('cursor')) : 0;
  if (from < 0) return ex.send(422, { message: 'Validation Failed', errors: [{ field: 'cursor', code: 'invalid' }] });
  const page = newestFirst.slice(from, from + perPage);
  const next = newestFirst[from + perPage];
  const headers: Record<string, string> = next ? { link: `<http://${ex.req.headers.host}/app/hook/deliveries?per_page=${perPage}&cursor=v1_${next.id}>; rel="next"` } : {};
  return ex.send(200, page.map(listedDelivery), headers);
}
