import { setTimeout as sleep } from 'node:timers/promises';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { PreviewGatewaySettings } from '../../config.js';
import { ProvisionError, type LogSink } from '../provisioner.js';
import { kubeRead, type KubeApi } from './kube-api.js';
import { GATEWAY_API_VERSION, ROUTE_NAME } from './preview-route.js';

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
}

interface ParentStatus {
  parentRef: { group?: string; kind?: string; namespace?: string; name: string; sectionName?: string };
  controllerName?: string;
  conditions?: Condition[];
}

type RouteObject = KubernetesObject & { status?: { parents?: ParentStatus[] } };

const gatewayName = (g: PreviewGatewaySettings) => `${g.namespace}/${g.name}${g.sectionName ? ` (listener ${g.sectionName})` : ''}`;

/**
 * The Gateway previews attach to, read: a missing one is named (and so is a cluster without the Gateway API), rather
 * than a deploy waiting out its timeout for a verdict no controller will ever write.
 */
export async function checkGateway(api: KubeApi, gateway: PreviewGatewaySettings, signal: AbortSignal): Promise<void> {
  // Discovery first (cached by the client): without the Gateway API's CRDs the group is not served at all, which a
  // read would report as a Gateway not found.
  const served = await kubeRead(() => api.objects.discover(GATEWAY_API_VERSION, 'Gateway').then((r) => r ?? null), {
    signal,
    what: `looking up the Gateway API (${GATEWAY_API_VERSION}) on the API server`,
  });
  if (!served) {
    throw new ProvisionError(`the cluster does not serve the Gateway API (${GATEWAY_API_VERSION}): install its CRDs and a Gateway controller, or set PREVIEW_ROUTING=ingress`, false);
  }
  const ref = { apiVersion: GATEWAY_API_VERSION, kind: 'Gateway', metadata: { namespace: gateway.namespace, name: gateway.name } };
  const found = await kubeRead(() => api.objects.read(ref), { signal, what: `reading Gateway ${gateway.namespace}/${gateway.name}` });
  if (!found) throw new ProvisionError(`Gateway ${gateway.namespace}/${gateway.name} (PREVIEW_GATEWAY) does not exist`, false);
}

/** The route's status entry for this Gateway (and listener), as the Gateway's controller writes it. */
function parentStatus(route: RouteObject, gateway: PreviewGatewaySettings): ParentStatus | undefined {
  const namespace = route.metadata?.namespace;
  return route.status?.parents?.find((p) => {
    const r = p.parentRef;
    return (
      (r.group ?? 'gateway.networking.k8s.io') === 'gateway.networking.k8s.io' &&
      (r.kind ?? 'Gateway') === 'Gateway' &&
      (r.namespace ?? namespace) === gateway.namespace &&
      r.name === gateway.name &&
      (r.sectionName ?? undefined) === gateway.sectionName
    );
  });
}

const describe = (c: Condition | undefined) => (c ? `${c.type}=${c.status}${c.reason ? ` ${c.reason}` : ''}${c.message ? `: ${c.message}` : ''}` : 'no verdict');

/**
 * Waits for the Gateway to accept the preview's HTTPRoute: its `status.parents[]` entry for the Gateway, written for
 * the route's current generation, with `Accepted=True` and `ResolvedRefs=True`. `Accepted=False` (a hostname the
 * listeners do not allow, a namespace their allowedRoutes leave out) fails at once with the controller's reason and
 * message; unresolved references may be a moment early (a Service just applied), so they fail only at the deadline.
 */
export async function waitForRoute(w: { api: KubeApi; namespace: string; gateway: PreviewGatewaySettings; deadline: number; timeoutSeconds: number; pollMs: number; log: LogSink; signal: AbortSignal }): Promise<void> {
  const ref = { apiVersion: GATEWAY_API_VERSION, kind: 'HTTPRoute', metadata: { namespace: w.namespace, name: ROUTE_NAME } };
  const name = gatewayName(w.gateway);
  let last = '';
  let gatewayChecked = false;
  for (;;) {
    const route = (await kubeRead(() => w.api.objects.read(ref), { signal: w.signal, what: `reading HTTPRoute ${ROUTE_NAME}` })) as RouteObject | null;
    if (!route) throw new ProvisionError(`HTTPRoute ${ROUTE_NAME} is gone from namespace ${w.namespace}`, true);
    const entry = parentStatus(route, w.gateway);
    const generation = route.metadata?.generation ?? 0;
    const current = (c: Condition | undefined) => (c && (c.observedGeneration ?? generation) >= generation ? c : undefined);
    const accepted = current(entry?.conditions?.find((c) => c.type === 'Accepted'));
    const resolved = current(entry?.conditions?.find((c) => c.type === 'ResolvedRefs'));
    if (accepted?.status === 'False') {
      throw new ProvisionError(`Gateway ${name} refused HTTPRoute ${ROUTE_NAME}: ${accepted.reason ?? 'not accepted'}${accepted.message ? `: ${accepted.message}` : ''}`, false);
    }
    if (accepted?.status === 'True' && resolved?.status === 'True') {
      w.log(`HTTPRoute ${ROUTE_NAME} accepted by Gateway ${name}`);
      return;
    }
    const now = entry ? `${describe(accepted)}; ${describe(resolved)}` : 'no status from its controller';
    if (now !== last) w.log(`HTTPRoute ${ROUTE_NAME} on Gateway ${name}: ${now}`);
    last = now;
    if (Date.now() > w.deadline) {
      throw new ProvisionError(`Gateway ${name} has not accepted HTTPRoute ${ROUTE_NAME} within ${w.timeoutSeconds} s (${last})`, false);
    }
    // No entry at all: a Gateway that went away since the deploy began never gets one.
    if (!entry && !gatewayChecked) await checkGateway(w.api, w.gateway, w.signal);
    gatewayChecked ||= !entry;
    await sleep(w.pollMs, undefined, { signal: w.signal });
  }
}
