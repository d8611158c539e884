/* eslint-disable @typescript-eslint/no-explicit-any -- stored objects are arbitrary Kubernetes JSON */
import type { ResourceDef } from './resources.js';

/** One change as a watch delivers it, kept for watches that start from an earlier resourceVersion. */
export interface WatchEvent {
  resourceVersion: number;
  def: ResourceDef;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: any;
  /** Date.now() when the change was stored: when the component that wrote it acted, whenever a watcher reads it. */
  at: number;
}

/**
 * The API server's watch cache, in small: the latest changes, so a watch started from the resourceVersion of a list
 * gets every change made since that list, as a real API server sends them; a resourceVersion older than what is
 * kept is answered as the server does, with a 410 `Expired` ERROR event (the client lists again).
 */
export class WatchHistory {
  private readonly events: WatchEvent[] = [];
  /** Changes up to this resourceVersion are no longer kept (etcd compaction, or the cache's window moving on). */
  private compactedTo = 0;

  constructor(private readonly capacity = 5_000) {}

  record(event: WatchEvent): void {
    this.events.push(event);
    if (this.events.length > this.capacity) {
      const dropped = this.events.splice(0, this.events.length - this.capacity);
      this.compactedTo = Math.max(this.compactedTo, dropped.at(-1)!.resourceVersion);
    }
  }

  /** The changes after `resourceVersion`; `expired` when changes after it are no longer kept. */
  since(resourceVersion: number): { expired: true; oldest: number } | { expired: false; events: WatchEvent[] } {
    if (resourceVersion < this.compactedTo) return { expired: true, oldest: this.compactedTo + 1 };
    return { expired: false, events: this.events.filter((e) => e.resourceVersion > resourceVersion) };
  }

  /** When the change that made `resourceVersion` was stored, while it is kept. */
  changedAt(resourceVersion: number): number | undefined {
    for (let i = this.events.length - 1; i >= 0; i--) {
      const e = this.events[i]!;
      if (e.resourceVersion === resourceVersion) return e.at;
      if (e.resourceVersion < resourceVersion) return undefined;
    }
    return undefined;
  }

  /** Forgets every change up to `resourceVersion`: a watch from before it gets 410 Gone (a test of a client's answer). */
  compact(resourceVersion: number): void {
    this.compactedTo = Math.max(this.compactedTo, resourceVersion);
    const keep = this.events.filter((e) => e.resourceVersion > resourceVersion);
    this.events.splice(0, this.events.length, ...keep);
  }
}

/** The Status a real API server sends in an ERROR watch event for a resourceVersion it no longer has. */
export function expiredStatus(requested: number, oldest: number): object {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `too old resource version: ${requested} (${oldest})`,
    reason: 'Expired',
    code: 410,
  };
}
