/**
 * A Gateway API implementation's controller, as its informers drive it: any change to a GatewayClass, Gateway,
 * HTTPRoute, Service or Namespace resyncs everything after the control plane's delay (a preview cluster holds a
 * handful of each). It owns the GatewayClasses naming its controllerName and the Gateways of those classes; it
 * writes their status, and each HTTPRoute's status.parents entry for every parentRef to one of its Gateways,
 * following gateway-route-rules.ts unless the test's script says otherwise. Parent refs to Gateways that do not
 * exist or that another controller owns get no entry from it, as from a real controller; other controllers'
 * entries are left alone.
 */
import { now, SyncQueue, type ClusterHost, type Clock } from './cluster-host.js';
import { acceptance, backendResolution, gatewayOf, supportedKinds, type Verdict } from './gateway-route-rules.js';
import { clone, deepEqual, isObject, type Obj } from './merge.js';
import { findKind, GATEWAY_API_RESOURCES, GATEWAY_GROUP, type ResourceDef } from './resources.js';

/** A parentRef of a route, as stored (group and kind defaulted by the API server). */
export interface GatewayParentRef {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

/** An HTTPRoute as the controller reads it. */
export interface GatewayScriptRoute {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; generation?: number; labels?: Record<string, string> };
  spec: { parentRefs?: GatewayParentRef[]; hostnames?: string[]; rules?: Array<Record<string, unknown>> };
}

/** A condition the script writes in place of what the rules decided. */
export interface GatewayConditionOverride {
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

/**
 * What the controller does for one parentRef to one of its Gateways: undefined (or an empty object) follows the
 * rules; `accepted` / `resolvedRefs` replace those conditions; 'ignore' writes nothing for that parent (a controller
 * that never gets to it: an entry it wrote before stays as it was).
 */
export type GatewayScriptResult = { accepted?: GatewayConditionOverride; resolvedRefs?: GatewayConditionOverride } | 'ignore' | undefined | void;
export type GatewayScript = (route: GatewayScriptRoute, parentRef: GatewayParentRef) => GatewayScriptResult;

const MANAGER = 'gateway-controller';
/** The CRDs' version the fake serves (GatewayClass SupportedVersion names it). */
const BUNDLE_VERSION = 'v1.5.1';
const def = (kind: string) => GATEWAY_API_RESOURCES.find((d) => d.kind === kind)!;
const CLASS = def('GatewayClass');
const GATEWAY = def('Gateway');
const ROUTE = def('HTTPRoute');
const SERVICE = findKind('v1', 'Service')!;
const NAMESPACE = findKind('v1', 'Namespace')!;
const WATCHED = new Set<ResourceDef>([CLASS, GATEWAY, ROUTE, SERVICE, NAMESPACE]);

const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObject) : []);

/**
 * metav1.Condition list updates as controllers make them (meta.SetStatusCondition): the given types replace theirs,
 * keeping lastTransitionTime while the status stays; other types are left as they are.
 */
function setConditions(existing: unknown, wanted: Array<Verdict & { type: string }>, generation: number | undefined): Obj[] {
  const before = list(existing);
  const next = wanted.map((w) => {
    const previous = before.find((c) => c.type === w.type);
    const changed = previous?.status !== w.status;
    return {
      type: w.type,
      status: w.status,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      lastTransitionTime: changed ? now() : previous!.lastTransitionTime,
      reason: w.reason,
      message: w.message,
    };
  });
  return [...before.filter((c) => !wanted.some((w) => w.type === c.type)), ...next];
}

const cond = (type: string, status: Verdict['status'], reason: string, message: string) => ({ type, status, reason, message });

export class GatewayController {
  private readonly queue: SyncQueue;
  /** Set while it writes: its own writes are not news to it. */
  private syncing = false;

  constructor(
    private readonly host: ClusterHost,
    private readonly clock: Clock,
    private readonly controllerName: string,
    private readonly script: () => GatewayScript | undefined,
  ) {
    this.queue = new SyncQueue(host, () => this.sync());
  }

  /** An object of `def` was stored or removed. */
  observed(def: ResourceDef): void {
    if (!this.syncing && WATCHED.has(def)) this.resync();
  }

  resync(): void {
    this.queue.add('all', this.clock.delayMs);
  }

  private sync(): void {
    this.syncing = true;
    try {
      const classes = this.host.list(CLASS, undefined).filter((c) => c.spec?.controllerName === this.controllerName);
      for (const c of classes) {
        const wanted = [cond('Accepted', 'True', 'Accepted', 'Valid GatewayClass'), cond('SupportedVersion', 'True', 'SupportedVersion', `Gateway API bundle version ${BUNDLE_VERSION} is supported`)];
        this.writeStatus(CLASS, c, { ...c.status, conditions: setConditions(c.status?.conditions, wanted, c.metadata.generation) });
      }
      const owned = new Set(classes.map((c) => c.metadata.name));
      const gateways = this.host.list(GATEWAY, undefined).filter((g) => owned.has(g.spec?.gatewayClassName));
      const attached = new Map<string, number>();
      for (const route of this.host.list(ROUTE, undefined)) this.syncRoute(route, gateways, attached);
      for (const g of gateways) this.syncGateway(g, attached);
    } finally {
      this.syncing = false;
    }
  }

  private syncRoute(route: Obj, gateways: Obj[], attached: Map<string, number>): void {
    const ns = route.metadata.namespace as string;
    const generation = route.metadata.generation as number | undefined;
    const before = list(route.status?.parents);
    const mine = (e: Obj) => e.controllerName === this.controllerName;
    const entries: Obj[] = [];
    for (const ref of list(route.spec?.parentRefs)) {
      const target = gatewayOf(ref, ns);
      const gateway = target && gateways.find((g) => g.metadata.namespace === target.namespace && g.metadata.name === target.name);
      if (!gateway) continue;
      const previous = before.find((e) => mine(e) && deepEqual(e.parentRef, ref));
      const scripted = this.script()?.(clone(route) as GatewayScriptRoute, clone(ref) as GatewayParentRef);
      if (scripted === 'ignore') {
        if (previous) entries.push(previous);
        continue;
      }
      const rules = acceptance(route, ref, gateway, this.host.namespace(ns));
      const accepted = scripted?.accepted ?? rules.accepted;
      const resolved = scripted?.resolvedRefs ?? backendResolution(route, (n, name) => this.host.get(SERVICE, n, name));
      const conditions = setConditions(previous?.conditions, [{ type: 'Accepted', ...accepted }, { type: 'ResolvedRefs', ...resolved }], generation);
      entries.push({ parentRef: clone(ref), controllerName: this.controllerName, conditions });
      if (accepted.status !== 'True') continue;
      // Only Accepted routes count on a listener; a scripted acceptance attaches to every listener the ref selects.
      for (const listener of rules.attached.length > 0 ? rules.attached : rules.selected) {
        const key = `${gateway.metadata.namespace}/${gateway.metadata.name}/${listener}`;
        attached.set(key, (attached.get(key) ?? 0) + 1);
      }
    }
    const parents = [...before.filter((e) => !mine(e)), ...entries];
    if (route.status === undefined && parents.length === 0) return;
    this.writeStatus(ROUTE, route, { ...route.status, parents });
  }

  private syncGateway(gateway: Obj, attached: Map<string, number>): void {
    const generation = gateway.metadata.generation as number | undefined;
    const previous = list(gateway.status?.listeners);
    const listeners = list(gateway.spec?.listeners).map((l) => {
      const { supported, invalid } = supportedKinds(l);
      const http = ['HTTP', 'HTTPS'].includes(l.protocol);
      const kinds = invalid.map((k) => `${k.group ?? GATEWAY_GROUP}/${k.kind}`).join(', ');
      const wanted = [
        http ? cond('Accepted', 'True', 'Accepted', 'Listener is accepted') : cond('Accepted', 'False', 'UnsupportedProtocol', `Protocol ${l.protocol} is not supported`),
        http ? cond('Programmed', 'True', 'Programmed', 'Listener is programmed') : cond('Programmed', 'False', 'Invalid', 'Listener is invalid'),
        invalid.length === 0 ? cond('ResolvedRefs', 'True', 'ResolvedRefs', 'Listener references are resolved') : cond('ResolvedRefs', 'False', 'InvalidRouteKinds', `Route kinds not supported: ${kinds}`),
        cond('Conflicted', 'False', 'NoConflicts', 'Listener does not conflict with other listeners'),
      ];
      const before = previous.find((p) => p.name === l.name);
      return {
        name: l.name,
        supportedKinds: supported,
        attachedRoutes: attached.get(`${gateway.metadata.namespace}/${gateway.metadata.name}/${l.name}`) ?? 0,
        conditions: setConditions(before?.conditions, wanted, generation),
      };
    });
    const conditions = setConditions(gateway.status?.conditions, [cond('Accepted', 'True', 'Accepted', 'Gateway is accepted'), cond('Programmed', 'True', 'Programmed', 'Gateway is programmed')], generation);
    this.writeStatus(GATEWAY, gateway, { ...gateway.status, conditions, listeners });
  }

  private writeStatus(d: ResourceDef, obj: Obj, status: Obj): void {
    if (deepEqual(obj.status, status)) return;
    this.host.update(d, { ...obj, status }, MANAGER, 'status');
  }
}
