/** GET …/pods/{name}/log: a container's log as the kubelet serves it, with the query's container, previous, timestamps, tailLines and limitBytes. */
import { DEF, now } from './cluster-host.js';
import type { Obj } from './merge.js';
import type { Route } from './requests.js';
import type { ServerState } from './server-state.js';
import { badRequest, notFound } from './status.js';

/** The container asked for: the query's, or the pod's only one. */
function containerOf(pod: Obj, route: Route, query: URLSearchParams): string {
  const names: string[] = (pod.spec?.containers ?? []).map((c: Obj) => c.name);
  const all = [...names, ...(pod.spec?.initContainers ?? []).map((c: Obj) => c.name as string)];
  let container = query.get('container') ?? '';
  if (!container) {
    if (names.length !== 1) throw badRequest(`a container name must be specified for pod ${route.name}, choose one of: [${names.join(' ')}]`);
    container = names[0]!;
  }
  if (!all.includes(container)) throw badRequest(`container ${container} is not valid for pod ${route.name}`);
  return container;
}

export function podLog(state: ServerState, route: Route, query: URLSearchParams): string {
  const pod = state.store.get(DEF.pod, route.namespace, route.name!);
  if (!pod) throw notFound(DEF.pod, route.name!);
  const container = containerOf(pod, route, query);
  const result = state.controller.logs(pod, container, query.get('previous') === 'true');
  if ('error' in result) throw badRequest(result.error);
  let lines = result.text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (query.get('timestamps') === 'true') {
    const stamp = (pod.status?.startTime ?? now()).replace('Z', '.000000000Z');
    lines = lines.map((l) => `${stamp} ${l}`);
  }
  const tail = query.get('tailLines');
  if (tail !== null && Number(tail) >= 0) lines = Number(tail) === 0 ? [] : lines.slice(-Number(tail));
  let text = lines.length > 0 ? `${lines.join('\n')}\n` : '';
  const limitBytes = Number(query.get('limitBytes') ?? 0);
  if (limitBytes > 0) text = Buffer.from(text).subarray(0, limitBytes).toString('utf8');
  return text;
}
