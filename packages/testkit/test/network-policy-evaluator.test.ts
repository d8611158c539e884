import { describe, expect, it } from '@jest/globals';
import { cidrContains, evaluateFlow, selectorMatches, type Endpoint, type NetworkPolicyObject } from '../src/network-policy-evaluator.js';

const pod = (namespace: string, ip: string, labels: Record<string, string> = {}, extra: Partial<NonNullable<Endpoint['pod']>> = {}): Endpoint => ({
  ip,
  pod: { namespace, labels, ...extra },
});
const policy = (namespace: string, spec: NetworkPolicyObject['spec']): NetworkPolicyObject => ({ metadata: { name: 'p', namespace }, spec });

describe('network policy evaluator', () => {
  const db = pod('prod', '10.0.0.5', { role: 'db' }, { namedPorts: { redis: { port: 6379 } } });
  const frontend = pod('prod', '10.0.0.6', { role: 'frontend' });
  const other = pod('staging', '10.0.1.6', { role: 'frontend' }, { namespaceLabels: { project: 'myproject' } });
  const outside: Endpoint = { ip: '172.17.1.9' };

  it('no policy selecting the pod: allowed both ways', () => {
    expect(evaluateFlow([], { from: frontend, to: db, port: 6379 })).toEqual({ allowed: true, egress: 'not-isolated', ingress: 'not-isolated' });
    // A policy selecting other pods does not isolate this one.
    const onlyWeb = policy('prod', { podSelector: { matchLabels: { role: 'web' } }, policyTypes: ['Ingress'] });
    expect(evaluateFlow([onlyWeb], { from: frontend, to: db, port: 6379 }).allowed).toBe(true);
  });

  it('the documentation\'s example: podSelector, namespaceSelector and ipBlock with except, on a port', () => {
    const p = policy('prod', {
      podSelector: { matchLabels: { role: 'db' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          from: [{ ipBlock: { cidr: '172.17.0.0/16', except: ['172.17.1.0/24'] } }, { namespaceSelector: { matchLabels: { project: 'myproject' } } }, { podSelector: { matchLabels: { role: 'frontend' } } }],
          ports: [{ protocol: 'TCP', port: 6379 }],
        },
      ],
      egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/24' } }], ports: [{ protocol: 'TCP', port: 5978 }] }],
    });
    expect(evaluateFlow([p], { from: frontend, to: db, port: 6379 }).allowed).toBe(true);
    expect(evaluateFlow([p], { from: frontend, to: db, port: 6380 }).allowed).toBe(false);
    expect(evaluateFlow([p], { from: frontend, to: db, port: 6379, protocol: 'UDP' }).allowed).toBe(false);
    expect(evaluateFlow([p], { from: other, to: db, port: 6379 }).allowed).toBe(true);
    expect(evaluateFlow([p], { from: { ip: '172.17.2.1' }, to: db, port: 6379 }).allowed).toBe(true);
    expect(evaluateFlow([p], { from: outside, to: db, port: 6379 }).ingress).toBe('denied');
    expect(evaluateFlow([p], { from: db, to: { ip: '10.0.0.9' }, port: 5978 }).egress).toBe('allowed');
    expect(evaluateFlow([p], { from: db, to: { ip: '10.0.1.9' }, port: 5978 }).egress).toBe('denied');
  });

  it('namespaceSelector and podSelector in one peer are ANDed; in two peers, ORed', () => {
    const and = policy('prod', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { project: 'myproject' } }, podSelector: { matchLabels: { role: 'client' } } }] }] });
    const or = policy('prod', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { project: 'myproject' } } }, { podSelector: { matchLabels: { role: 'client' } } }] }] });
    expect(evaluateFlow([and], { from: other, to: db, port: 80 }).allowed).toBe(false);
    expect(evaluateFlow([or], { from: other, to: db, port: 80 }).allowed).toBe(true);
    const client = pod('staging', '10.0.1.7', { role: 'client' }, { namespaceLabels: { project: 'myproject' } });
    expect(evaluateFlow([and], { from: client, to: db, port: 80 }).allowed).toBe(true);
    // A podSelector alone selects pods of the policy's own namespace only.
    expect(evaluateFlow([policy('prod', { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }] }] })], { from: client, to: db, port: 80 }).allowed).toBe(false);
  });

  it('policyTypes: Ingress by default, Egress when there are egress rules; a type without rules denies everything', () => {
    const denyIn = policy('prod', { podSelector: {} });
    expect(evaluateFlow([denyIn], { from: frontend, to: db, port: 80 })).toEqual({ allowed: false, egress: 'not-isolated', ingress: 'denied' });
    const denyOut = policy('prod', { podSelector: {}, policyTypes: ['Egress'] });
    expect(evaluateFlow([denyOut], { from: db, to: outside, port: 80 })).toEqual({ allowed: false, egress: 'denied', ingress: 'not-isolated' });
    const allowAllIn = policy('prod', { podSelector: {}, ingress: [{}] });
    expect(evaluateFlow([denyIn, allowAllIn], { from: outside, to: db, port: 80 }).allowed).toBe(true);
  });

  it('ports: named ports of the destination, endPort ranges, any port of a protocol', () => {
    const named = policy('prod', { podSelector: {}, ingress: [{ ports: [{ port: 'redis' }] }] });
    expect(evaluateFlow([named], { from: frontend, to: db, port: 6379 }).allowed).toBe(true);
    expect(evaluateFlow([named], { from: frontend, to: frontend, port: 6379 }).allowed).toBe(false);
    const range = policy('prod', { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ protocol: 'TCP', port: 32000, endPort: 32768 }] }] });
    expect(evaluateFlow([range], { from: db, to: outside, port: 32768 }).allowed).toBe(true);
    expect(evaluateFlow([range], { from: db, to: outside, port: 32769 }).allowed).toBe(false);
    const udp = policy('prod', { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ protocol: 'UDP' }] }] });
    expect(evaluateFlow([udp], { from: db, to: outside, port: 53, protocol: 'UDP' }).allowed).toBe(true);
    expect(evaluateFlow([udp], { from: db, to: outside, port: 53 }).allowed).toBe(false);
  });

  it('selectors with matchExpressions; CIDRs of both families', () => {
    expect(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['a', 'b'] }] }, { tier: 'b' })).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['a'] }] }, {})).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, {})).toBe(false);
    expect(selectorMatches({ matchLabels: { a: '1' }, matchExpressions: [{ key: 'b', operator: 'DoesNotExist' }] }, { a: '1', b: '2' })).toBe(false);
    expect(cidrContains('0.0.0.0/0', '8.8.8.8')).toBe(true);
    expect(cidrContains('0.0.0.0/0', '2606:4700::1111')).toBe(false);
    expect(cidrContains('fc00::/7', 'fd00::1')).toBe(true);
    expect(cidrContains('::/0', 'fe80::1')).toBe(true);
  });
});
