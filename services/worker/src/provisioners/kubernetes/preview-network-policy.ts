import { isIP } from 'node:net';
import type { V1NetworkPolicy, V1NetworkPolicyEgressRule, V1NetworkPolicyPeer } from '@kubernetes/client-node';
import type { PreviewManifestSettings } from './kubernetes-settings.js';

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
export function previewNetworkPolicy(
  metadata: V1NetworkPolicy['metadata'],
  /** The ingress controller's namespace, or the Gateway's data plane's: the only other namespace that may connect to a preview. */
  routerNamespace: string,
  /**
   * PREVIEW_EGRESS_DENY_CIDRS: internet destinations refused (private ranges, cloud metadata), IPv4 ones under
   * 0.0.0.0/0, IPv6 ones under ::/0; PREVIEW_EGRESS_ALLOW_CIDRS: destinations allowed even inside them.
   */
  settings: Pick<PreviewManifestSettings, 'PREVIEW_EGRESS_DENY_CIDRS' | 'PREVIEW_EGRESS_ALLOW_CIDRS'>,
): V1NetworkPolicy {
  const allowed = settings.PREVIEW_EGRESS_ALLOW_CIDRS;
  const egress: V1NetworkPolicyEgressRule[] = [
    {
      to: [{ namespaceSelector: { matchLabels: { [NAMESPACE_NAME]: 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
      ports: [
        { protocol: 'UDP', port: 53 },
        { protocol: 'TCP', port: 53 },
      ],
    },
    { to: [{ podSelector: {} }] },
    { to: internet(settings.PREVIEW_EGRESS_DENY_CIDRS) },
  ];
  if (allowed.length > 0) egress.push({ to: allowed.map((cidr) => ({ ipBlock: { cidr } })) });
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata,
    spec: {
      podSelector: {},
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ _from: [{ podSelector: {} }] }, { _from: [{ namespaceSelector: { matchLabels: { [NAMESPACE_NAME]: routerNamespace } } }] }],
      egress,
    },
  };
}
