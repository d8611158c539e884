/**
 * Events as client-go's EventRecorder writes them through its EventCorrelator
 * (k8s.io/client-go/tools/record/events_cache.go): an identical event (same object, type, reason, message, source)
 * raises `count` and `lastTimestamp` of the one already written; once ten events with the same object, type and
 * reason but different messages are seen within ten minutes, the next are folded into one
 * "(combined from similar events): …" event (EventAggregator, maxEvents 10, maxIntervalInSeconds 600).
 */
import { randomBytes } from 'node:crypto';
import { DEF, now, type ClusterHost, type Clock } from './cluster-host.js';
import type { Obj } from './merge.js';

export type EventType = 'Normal' | 'Warning';

export interface EventSource {
  /** The node, for the kubelet's events. */
  host?: string;
  /** `spec.containers{name}`, for events about one container. */
  fieldPath?: string;
}

const AGGREGATE_MAX_EVENTS = 10;
const AGGREGATE_INTERVAL_SECONDS = 600;
const COMBINED = '(combined from similar events): ';

export class EventRecorder {
  private readonly similar = new Map<string, { messages: Set<string>; lastAt: number }>();

  constructor(
    private readonly host: ClusterHost,
    private readonly clock: Clock,
  ) {}

  /** Records (or counts again) an event about `involved`, as `component` reports it. */
  record(involved: Obj, type: EventType, reason: string, message: string, component: string, source: EventSource = {}): void {
    const ns = involved.metadata.namespace as string;
    if (this.host.namespace(ns)?.status?.phase !== 'Active') return;
    const text = this.aggregate(involved, type, reason, message, component);
    const existing = this.host
      .list(DEF.event, ns)
      .find(
        (e) =>
          e.involvedObject?.uid === involved.metadata.uid &&
          e.reason === reason &&
          e.type === type &&
          e.source?.component === component &&
          (text.startsWith(COMBINED) ? String(e.message).startsWith(COMBINED) : e.message === text),
      );
    if (existing) {
      this.host.update(DEF.event, { ...existing, message: text, count: (existing.count ?? 1) + 1, lastTimestamp: now() }, component);
      return;
    }
    this.host.create(DEF.event, this.newEvent(involved, type, reason, text, component, source), component);
  }

  /** EventAggregator: the message as written, or the combined form once too many similar ones were seen. */
  private aggregate(involved: Obj, type: EventType, reason: string, message: string, component: string): string {
    const key = `${involved.metadata.uid}/${type}/${reason}/${component}`;
    const at = Date.now();
    let record = this.similar.get(key);
    if (!record || at - record.lastAt > AGGREGATE_INTERVAL_SECONDS * this.clock.secondMs) record = { messages: new Set(), lastAt: at };
    record.messages.add(message);
    record.lastAt = at;
    this.similar.set(key, record);
    return record.messages.size < AGGREGATE_MAX_EVENTS ? message : `${COMBINED}${message}`;
  }

  private newEvent(involved: Obj, type: EventType, reason: string, message: string, component: string, source: EventSource): Obj {
    const ns = involved.metadata.namespace as string;
    const at = now();
    return {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${involved.metadata.name}.${randomBytes(8).toString('hex')}`, namespace: ns },
      involvedObject: {
        kind: involved.kind,
        namespace: ns,
        name: involved.metadata.name,
        uid: involved.metadata.uid,
        apiVersion: involved.apiVersion,
        resourceVersion: involved.metadata.resourceVersion,
        ...(source.fieldPath ? { fieldPath: source.fieldPath } : {}),
      },
      reason,
      message,
      source: { component, ...(source.host ? { host: source.host } : {}) },
      firstTimestamp: at,
      lastTimestamp: at,
      count: 1,
      type,
      eventTime: null,
      reportingComponent: component,
      reportingInstance: source.host ?? '',
    };
  }
}
