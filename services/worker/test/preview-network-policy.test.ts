import { describe, expect, it } from '@jest/globals';
import { evaluateFlow, networkPolicyFromClient, type Endpoint, type Flow } from '@ephemera/testkit';
import { loadWorkerConfig } from '../src/config.js';
import { ofKind, renderPreview } from './preview-render.js';

// The preview's NetworkPolicy, rendered as the provisioner renders it, judged flow by flow with Kubernetes'
// NetworkPolicy semantics (the evaluator in the test kit).

const policiesOf = (env: Record<string, string> = {}) => ofKind(renderPreview(env), 'NetworkPolicy').map(networkPolicyFromClient);

const preview: Endpoint = { ip: '10.244.2.10', pod: { namespace: 'pr-7-web', labels: { 'ephemera.dev/service': 'web' } } };
const sibling: Endpoint = { ip: '10.244.2.11', pod: { namespace: 'pr-7-web', labels: { 'ephemera.dev/service': 'worker' } } };
const redis: Endpoint = { ip: '10.244.1.7', pod: { namespace: 'ephemera', labels: { app: 'redis' } } };
const otherPreview: Endpoint = { ip: '10.244.3.4', pod: { namespace: 'pr-8-api', labels: { 'ephemera.dev/service': 'web' } } };
const kubeDns: Endpoint = { ip: '10.244.0.3', pod: { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } } };
const ingressController: Endpoint = { ip: '10.244.0.9', pod: { namespace: 'ingress-nginx', labels: { 'app.kubernetes.io/name': 'ingress-nginx' } } };
const host = (ip: string): Endpoint => ({ ip });

const allowed = (flow: Flow, env?: Record<string, string>) => evaluateFlow(policiesOf(env), flow).allowed;

describe('the preview NetworkPolicy (defaults)', () => {
  it('is default-deny both ways', () => {
    const [policy] = policiesOf();
    expect(policy!.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy!.spec.podSelector).toEqual({});
  });

  it('refuses the cloud metadata endpoint, Ephemera\'s Redis, other previews and private IPv6', () => {
    expect(allowed({ from: preview, to: host('169.254.169.254'), port: 80 })).toBe(false);
    expect(allowed({ from: preview, to: redis, port: 6379 })).toBe(false);
    expect(allowed({ from: preview, to: otherPreview, port: 3000 })).toBe(false);
    expect(allowed({ from: preview, to: host('fd00::1'), port: 443 })).toBe(false);
    expect(allowed({ from: preview, to: host('192.168.1.1'), port: 443 })).toBe(false);
    expect(allowed({ from: preview, to: host('100.64.0.1'), port: 443 })).toBe(false);
  });

  it('allows the cluster DNS, the internet (IPv4 and IPv6) and the preview\'s own pods', () => {
    expect(allowed({ from: preview, to: kubeDns, port: 53, protocol: 'UDP' })).toBe(true);
    expect(allowed({ from: preview, to: kubeDns, port: 53, protocol: 'TCP' })).toBe(true);
    // DNS pods on another port are not a way out.
    expect(allowed({ from: preview, to: kubeDns, port: 8080 })).toBe(false);
    expect(allowed({ from: preview, to: host('140.82.112.3'), port: 443 })).toBe(true);
    expect(allowed({ from: preview, to: host('2606:4700::1111'), port: 443 })).toBe(true);
    expect(allowed({ from: sibling, to: preview, port: 3000 })).toBe(true);
  });

  it('lets the ingress controller in, and no other namespace', () => {
    expect(allowed({ from: ingressController, to: preview, port: 3000 })).toBe(true);
    expect(allowed({ from: otherPreview, to: preview, port: 3000 })).toBe(false);
    expect(allowed({ from: redis, to: preview, port: 3000 })).toBe(false);
  });
});

describe('the preview NetworkPolicy with PREVIEW_EGRESS_ALLOW_CIDRS and PREVIEW_EGRESS_DENY_CIDRS', () => {
  it('an allowed range is reachable inside the denied ones, and nothing else there', () => {
    const env = { PREVIEW_EGRESS_ALLOW_CIDRS: '10.20.0.0/16' };
    expect(allowed({ from: preview, to: host('10.20.3.4'), port: 443 }, env)).toBe(true);
    expect(allowed({ from: preview, to: host('10.21.3.4'), port: 443 }, env)).toBe(false);
    expect(allowed({ from: preview, to: redis, port: 6379 }, env)).toBe(false);
  });

  it('the deny list is the operator\'s; IPv4 excepts go under 0.0.0.0/0 and IPv6 under ::/0', () => {
    const [policy] = policiesOf({ PREVIEW_EGRESS_DENY_CIDRS: '10.0.0.0/8, 2001:db8::/32' });
    expect(policy!.spec.egress!.at(-1)!.to).toEqual([{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] } }, { ipBlock: { cidr: '::/0', except: ['2001:db8::/32'] } }]);
    expect(allowed({ from: preview, to: host('169.254.169.254'), port: 80 }, { PREVIEW_EGRESS_DENY_CIDRS: '10.0.0.0/8' })).toBe(true);
  });

  it('a CIDR that is not one is refused at start, naming the variable', () => {
    const base = { DATABASE_URL: 'postgresql://postgres@127.0.0.1/x', QUEUE_SIGNING_KEY: 'k'.repeat(32) };
    expect(() => loadWorkerConfig({ ...base, PREVIEW_EGRESS_DENY_CIDRS: '10.0.0.0/8,10.0.0.300/32' })).toThrow(/PREVIEW_EGRESS_DENY_CIDRS: must be comma-separated CIDRs/);
    expect(() => loadWorkerConfig({ ...base, PREVIEW_EGRESS_ALLOW_CIDRS: 'fc00::/129' })).toThrow(/PREVIEW_EGRESS_ALLOW_CIDRS/);
    expect(() => loadWorkerConfig({ ...base, PREVIEW_EGRESS_ALLOW_CIDRS: 'staging.internal' })).toThrow(/PREVIEW_EGRESS_ALLOW_CIDRS/);
  });
});
