/** GET on a collection: the objects the selectors match, in pages of `limit` with continue tokens, as a `<Kind>List`. */
import { clone, type Obj } from './merge.js';
import { apiVersionOf, type ResourceDef } from './resources.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import type { ServerState } from './server-state.js';
import { badRequest } from './status.js';

export function listObjects(state: ServerState, d: ResourceDef, ns: string | undefined, query: URLSearchParams): Obj {
  const { store } = state;
  const labels = parseLabelSelector(query.get('labelSelector'));
  const fields = parseFieldSelector(query.get('fieldSelector'), d.fields);
  let items = store.all(d, ns).filter((o) => labels(o.metadata.labels) && fields(o));
  const token = query.get('continue');
  if (token) {
    let start: string;
    try {
      start = (JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { start: string }).start;
    } catch {
      throw badRequest(`continue key is not valid: illegal base64 data`);
    }
    items = items.filter((o) => store.keyOf(d, o.metadata.namespace, o.metadata.name) > start);
  }
  const limit = Number(query.get('limit') ?? 0);
  const metadata: Obj = { resourceVersion: String(store.resourceVersion) };
  if (limit > 0 && items.length > limit) {
    const last = items[limit - 1]!;
    metadata.continue = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: store.resourceVersion, start: store.keyOf(d, last.metadata.namespace, last.metadata.name) })).toString('base64');
    metadata.remainingItemCount = items.length - limit;
    items = items.slice(0, limit);
  }
  return { kind: `${d.kind}List`, apiVersion: apiVersionOf(d), metadata, items: items.map((o) => clone(o)) };
}
