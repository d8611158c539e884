/**
 * Kubernetes NetworkPolicy semantics for one concrete connection, for tests that check what a set of policies
 * allows without a network plugin. Implemented from https://kubernetes.io/docs/concepts/services-networking/network-policies/
 * and the API reference (https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/):
 *
 * - A policy selects the pods of its own namespace that its `spec.podSelector` matches (`{}`: all of them);
 *   selectors match `matchLabels` and `matchExpressions` (In, NotIn, Exists, DoesNotExist), ANDed.
 * - `policyTypes` defaults to `[Ingress]`, plus `Egress` when the policy has an `egress` section.
 * - A pod no policy selects for a direction is not isolated in that direction: everything is allowed.
 * - An isolated pod's traffic is allowed when at least one rule of at least one selecting policy matches (policies
 *   and rules are ORed, never subtract); a policy of that type without rules allows nothing.
 * - A rule matches when a peer matches (no or empty `from`/`to`: every peer) and a port matches (no or empty
 *   `ports`: every port).
 * - Peers: `podSelector` alone — pods in the policy's namespace; `namespaceSelector` alone — every pod in the selected
 *   namespaces; both in one peer — pods matching the podSelector in the selected namespaces (AND); `ipBlock` — an IP in
 *   `cidr` and in none of `except`. Namespaces carry `kubernetes.io/metadata.name` automatically.
 * - Ports: `protocol` defaults to TCP; `port` is a number, or a name matched against the destination pod's named
 *   container ports; `endPort` makes a range `port`..`endPort`; no `port`: every port of the protocol.
 * - A connection is allowed when the source pod's egress allows it AND the destination pod's ingress allows it.
 *
 * Not modelled: traffic to and from the pod's own node is always allowed; whether ipBlock applies to pod IPs
 * (plugin-defined; here ipBlock matches any IP, pods' included); reply packets (always allowed).
 */
import { BlockList, isIP } from 'node:net';

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | string; values?: string[] }>;
}

interface PolicyPort {
  protocol?: string;
  port?: number | string;
  endPort?: number;
}
interface PolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}
interface PolicyRule {
  from?: PolicyPeer[];
  to?: PolicyPeer[];
  ports?: PolicyPort[];
}

/** A NetworkPolicy as the API serves it (`from`, not the client library's `_from`). */
export interface NetworkPolicyObject {
  metadata: { name?: string; namespace?: string };
  spec: { podSelector?: LabelSelector; policyTypes?: string[]; ingress?: PolicyRule[]; egress?: PolicyRule[] };
}

/** One end of a connection: a pod (namespace, labels, named ports) or a bare address outside the cluster's pods. */
export interface Endpoint {
  ip: string;
  pod?: { namespace: string; labels?: Record<string, string>; namespaceLabels?: Record<string, string>; namedPorts?: Record<string, { port: number; protocol?: string }> };
}

export interface Flow {
  from: Endpoint;
  to: Endpoint;
  port: number;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
}

export interface FlowVerdict {
  allowed: boolean;
  egress: 'not-isolated' | 'allowed' | 'denied';
  ingress: 'not-isolated' | 'allowed' | 'denied';
}

export function selectorMatches(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const ok =
      e.operator === 'In' ? has && (e.values ?? []).includes(labels[e.key]!)
      : e.operator === 'NotIn' ? !has || !(e.values ?? []).includes(labels[e.key]!)
      : e.operator === 'Exists' ? has
      : e.operator === 'DoesNotExist' ? !has
      : false;
    if (!ok) return false;
  }
  return true;
}

const familyOf = (ip: string) => (isIP(ip) === 6 ? 'ipv6' : 'ipv4');

/** Whether `ip` is inside `cidr` (different address families never match). */
export function cidrContains(cidr: string, ip: string): boolean {
  const [net, prefix] = cidr.split('/') as [string, string];
  if (isIP(net) === 0 || isIP(ip) === 0 || familyOf(net) !== familyOf(ip)) return false;
  const list = new BlockList();
  list.addSubnet(net, Number(prefix), familyOf(net));
  return list.check(ip, familyOf(ip));
}

const namespaceLabels = (pod: NonNullable<Endpoint['pod']>) => ({ ...(pod.namespaceLabels ?? {}), 'kubernetes.io/metadata.name': pod.namespace });

function peerMatches(peer: PolicyPeer, policyNamespace: string, other: Endpoint): boolean {
  if (peer.ipBlock) return cidrContains(peer.ipBlock.cidr, other.ip) && !(peer.ipBlock.except ?? []).some((c) => cidrContains(c, other.ip));
  const pod = other.pod;
  if (!pod) return false;
  const inNamespace = peer.namespaceSelector ? selectorMatches(peer.namespaceSelector, namespaceLabels(pod)) : pod.namespace === policyNamespace;
  const podOk = peer.podSelector ? selectorMatches(peer.podSelector, pod.labels ?? {}) : true;
  return inNamespace && podOk;
}

function portMatches(rule: PolicyPort, flow: Flow): boolean {
  const protocol = flow.protocol ?? 'TCP';
  if ((rule.protocol ?? 'TCP') !== protocol) return false;
  if (rule.port === undefined) return true;
  if (typeof rule.port === 'string') {
    const named = flow.to.pod?.namedPorts?.[rule.port];
    return named !== undefined && named.port === flow.port && (named.protocol ?? 'TCP') === protocol;
  }
  return rule.endPort !== undefined ? flow.port >= rule.port && flow.port <= rule.endPort : flow.port === rule.port;
}

const typesOf = (p: NetworkPolicyObject) => p.spec.policyTypes ?? ['Ingress', ...(p.spec.egress ? ['Egress'] : [])];

/** One direction, as the pod at `self` sees it: its namespace's policies of that type that select it. */
function direction(policies: readonly NetworkPolicyObject[], type: 'Ingress' | 'Egress', self: Endpoint, other: Endpoint, flow: Flow): FlowVerdict['egress'] {
  const pod = self.pod;
  if (!pod) return 'not-isolated';
  const selecting = policies.filter(
    (p) => (p.metadata.namespace ?? 'default') === pod.namespace && typesOf(p).includes(type) && selectorMatches(p.spec.podSelector ?? {}, pod.labels ?? {}),
  );
  if (selecting.length === 0) return 'not-isolated';
  const allowed = selecting.some((p) =>
    (type === 'Ingress' ? (p.spec.ingress ?? []) : (p.spec.egress ?? [])).some((rule) => {
      const peers = type === 'Ingress' ? rule.from : rule.to;
      const peerOk = !peers || peers.length === 0 || peers.some((peer) => peerMatches(peer, pod.namespace, other));
      const portOk = !rule.ports || rule.ports.length === 0 || rule.ports.some((port) => portMatches(port, flow));
      return peerOk && portOk;
    }),
  );
  return allowed ? 'allowed' : 'denied';
}

/** Whether `policies` let the connection through: the source's egress and the destination's ingress. */
export function evaluateFlow(policies: readonly NetworkPolicyObject[], flow: Flow): FlowVerdict {
  const egress = direction(policies, 'Egress', flow.from, flow.to, flow);
  const ingress = direction(policies, 'Ingress', flow.to, flow.from, flow);
  return { allowed: egress !== 'denied' && ingress !== 'denied', egress, ingress };
}

/** A NetworkPolicy built with @kubernetes/client-node's types (`_from` for `from`) in the API's shape, as the evaluator reads it. */
export function networkPolicyFromClient(obj: unknown): NetworkPolicyObject {
  return renameFrom(JSON.parse(JSON.stringify(obj))) as NetworkPolicyObject;
}

function renameFrom(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(renameFrom);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k === '_from' ? 'from' : k, renameFrom(v)]));
}
