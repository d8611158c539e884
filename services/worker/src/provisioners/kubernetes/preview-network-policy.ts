import { isIP } from 'node:net';
import type { V1NetworkPolicy, V1NetworkPolicyEgressRule, V1NetworkPolicyPeer } from '@kubernetes/client-node';

/** What a preview's pods may reach and be reached by, besides their own namespace. */
export interface PreviewNetworkSettings {
  /** The ingress controller's namespace, or the Gateway's data plane's: the only other namespace that may connect to a preview. */
  routerNamespace: string;
  /** Internet destinations refused (private ranges, cloud metadata); IPv4 ones under 0.0.0.0/0, IPv6 ones under ::/0. */
  egressDenyCidrs: readonly string[];
  /** Destinations allowed even inside the refused ranges. */
  egressAllowCidrs: readonly string[];
}

const NAMESPACE_NAME = 'kubernetes.io/metadata.name';
const isIpv6Cidr = (cidr: string) => isIP(cidr.split('/')[0] ?? '') === 6;

/** The internet, as one ipBlock per address family, each without the refused ranges of its family. */
function internet(deny: readonly string[]): V1NetworkPolicyPeer[] {
  const v4 = deny.filter((c) => !isIpv6Cidr(c));
  const v6 = deny.filter(isIpv6Cidr);
  return [
    { ipBlock: { cidr: '0.0.0.0/0', ...(v4.length > 0 ? { except: v4 } : {}) } },
    { ipBlock: { cidr: '::/0', ...(v6.length > 0 ? { except: v6 } : {}) } },
  ];
}

/**
 * The preview's network fence: default-deny both ways. In: its own pods and the ingress controller (or the Gateway's proxies). Out: the
 * cluster DNS (kube-dns pods in kube-system, UDP and TCP 53), its own pods, and the internet without the refused
 * ranges (so neither the cluster's pods and services, nor Ephemera itself, nor the cloud metadata endpoint), plus
 * the explicitly allowed ranges.
 */
export function previewNetworkPolicy(metadata: V1NetworkPolicy['metadata'], settings: PreviewNetworkSettings): V1NetworkPolicy {
  const egress: V1NetworkPolicyEgressRule[] = [
    {
      to: [{ namespaceSelector: { matchLabels: { [NAMESPACE_NAME]: 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
      ports: [
        { protocol: 'UDP', port: 53 },
        { protocol: 'TCP', port: 53 },
      ],
    },
    { to: [{ podSelector: {} }] },
    { to: internet(settings.egressDenyCidrs) },
  ];
  if (settings.egressAllowCidrs.length > 0) egress.push({ to: settings.egressAllowCidrs.map((cidr) => ({ ipBlock: { cidr } })) });
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata,
    spec: {
      podSelector: {},
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ _from: [{ podSelector: {} }] }, { _from: [{ namespaceSelector: { matchLabels: { [NAMESPACE_NAME]: settings.routerNamespace } } }] }],
      egress,
    },
  };
}
