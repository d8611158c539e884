/**
 * Watches as the API server serves them: a chunked stream of ADDED/MODIFIED/DELETED events for the objects a
 * watcher's namespace and selectors match, starting with the existing objects or replaying every change since a
 * resourceVersion (410 Expired when the watch cache no longer has it).
 */
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import { clone, type Obj } from './merge.js';
import type { Route } from './requests.js';
import type { ResourceDef } from './resources.js';
import { parseFieldSelector, parseLabelSelector, type FieldMatcher, type LabelMatcher } from './selectors.js';
import { WatchHistory, expiredStatus } from './watch-history.js';

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface Watcher {
  def: ResourceDef;
  namespace?: string;
  labels: LabelMatcher;
  fields: FieldMatcher;
  res: http.ServerResponse;
}

/** What opening a watch needs of the server: the objects stored now, and its timers. */
export interface WatchSource {
  list(def: ResourceDef, namespace: string | undefined): Obj[];
  schedule(ms: number, fn: () => void): void;
}

const line = (type: string, object: unknown) => `${JSON.stringify({ type, object })}\n`;

export class WatchHub {
  private readonly watchers = new Set<Watcher>();
  private readonly history = new WatchHistory();

  /** A change was stored: it is kept for resuming watches and sent to every open watch it matches. */
  notify(d: ResourceDef, type: ChangeType, obj: Obj): void {
    this.history.record({ resourceVersion: Number(obj.metadata.resourceVersion), def: d, type, object: clone(obj), at: Date.now() });
    for (const w of this.watchers) {
      if (w.def !== d || (w.namespace !== undefined && obj.metadata.namespace !== w.namespace)) continue;
      if (!w.labels(obj.metadata.labels) || !w.fields(obj) || w.res.writableEnded) continue;
      w.res.write(line(type, obj));
    }
  }

  /** GET …?watch=true: answers the headers at once, then streams until the client goes or timeoutSeconds pass. */
  open(d: ResourceDef, route: Route, query: URLSearchParams, res: http.ServerResponse, source: WatchSource): void {
    const fieldSelector = route.name ? `metadata.name=${route.name}` : query.get('fieldSelector');
    const w: Watcher = { def: d, labels: parseLabelSelector(query.get('labelSelector')), fields: parseFieldSelector(fieldSelector, d.fields), res };
    if (route.namespace && d.namespaced) w.namespace = route.namespace;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private', 'audit-id': randomUUID() });
    // A watch with nothing to report yet must still answer at once: clients wait for the headers.
    res.flushHeaders();
    const rv = query.get('resourceVersion');
    const matches = (o: Obj) => (w.namespace === undefined || o.metadata.namespace === w.namespace) && w.labels(o.metadata.labels) && w.fields(o);
    if (!rv || rv === '0') {
      for (const o of source.list(d, w.namespace)) if (matches(o)) res.write(line('ADDED', o));
    } else {
      // Every change since that resourceVersion, as the API server's watch cache replays them; or 410 when too old.
      const since = this.history.since(Number(rv));
      if (since.expired) {
        res.end(line('ERROR', expiredStatus(Number(rv), since.oldest)));
        return;
      }
      for (const e of since.events) if (e.def === d && matches(e.object)) res.write(line(e.type, e.object));
    }
    this.watchers.add(w);
    res.on('close', () => this.watchers.delete(w));
    const timeout = Number(query.get('timeoutSeconds') ?? 0);
    if (timeout > 0) source.schedule(timeout * 1000, () => res.end());
  }

  /** When the change that made `resourceVersion` was stored, while the watch cache keeps it. */
  changedAt(resourceVersion: number): number | undefined {
    return this.history.changedAt(resourceVersion);
  }

  /** Forgets the changes up to `resourceVersion` (a compaction) and ends every open watch. */
  expire(resourceVersion: number): void {
    this.history.compact(resourceVersion);
    this.closeAll();
  }

  closeAll(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }
}
