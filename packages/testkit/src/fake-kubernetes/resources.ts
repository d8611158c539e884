import { createHash } from 'node:crypto';
import type { ListTypes } from './merge.js';

/** One REST resource the fake serves, with what discovery says about it and how its writes behave. */
export interface ResourceDef {
  group: string;
  version: string;
  /** Plural, as in URLs and RBAC rules. */
  resource: string;
  kind: string;
  singular: string;
  namespaced: boolean;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
  /** Subresources served under `<resource>/<name>/<sub>`, with their verbs. */
  subresources: Record<string, string[]>;
  /** metadata.generation is kept (and bumped when spec changes), as for the workload and policy kinds. */
  generation: boolean;
  /** Writes to the main resource cannot change status: it has a status subresource. */
  statusSubresource: boolean;
  /** Fields a fieldSelector may name besides metadata.name and metadata.namespace (the server refuses others). */
  fields: string[];
  /** DELETE answers the deleted object instead of a Status (pods, services, namespaces do). */
  returnsDeleted: boolean;
  /**
   * Served through a CustomResourceDefinition: its schema decides how server-side apply merges lists (only those of
   * x-kubernetes-list-type map, listed here by field path, merge item by item, keyed by name; every other list is
   * atomic), and strategic merge patch is refused as it is for every custom resource.
   */
  crd?: { mapLists: string[] };
}

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const STATUS = { status: ['get', 'patch', 'update'] };

export const RESOURCES: ResourceDef[] = [
  {
    group: '', version: 'v1', resource: 'namespaces', kind: 'Namespace', singular: 'namespace', namespaced: false,
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['ns'],
    subresources: { ...STATUS, finalize: ['update'] }, generation: false, statusSubresource: true, fields: ['status.phase'], returnsDeleted: true,
  },
  {
    group: '', version: 'v1', resource: 'pods', kind: 'Pod', singular: 'pod', namespaced: true, verbs: ALL_VERBS, shortNames: ['po'], categories: ['all'],
    subresources: { ...STATUS, log: ['get'] }, generation: false, statusSubresource: true,
    fields: ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.nominatedNodeName'],
    returnsDeleted: true,
  },
  {
    group: '', version: 'v1', resource: 'services', kind: 'Service', singular: 'service', namespaced: true, verbs: ALL_VERBS, shortNames: ['svc'], categories: ['all'],
    subresources: STATUS, generation: false, statusSubresource: true, fields: ['spec.clusterIP', 'spec.type'], returnsDeleted: true,
  },
  {
    group: '', version: 'v1', resource: 'secrets', kind: 'Secret', singular: 'secret', namespaced: true, verbs: ALL_VERBS,
    subresources: {}, generation: false, statusSubresource: false, fields: ['type'], returnsDeleted: false,
  },
  {
    group: '', version: 'v1', resource: 'configmaps', kind: 'ConfigMap', singular: 'configmap', namespaced: true, verbs: ALL_VERBS, shortNames: ['cm'],
    subresources: {}, generation: false, statusSubresource: false, fields: [], returnsDeleted: false,
  },
  {
    group: '', version: 'v1', resource: 'events', kind: 'Event', singular: 'event', namespaced: true, verbs: ALL_VERBS, shortNames: ['ev'],
    subresources: {}, generation: false, statusSubresource: false,
    fields: [
      'involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid', 'involvedObject.apiVersion',
      'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type',
    ],
    returnsDeleted: false,
  },
  {
    group: '', version: 'v1', resource: 'resourcequotas', kind: 'ResourceQuota', singular: 'resourcequota', namespaced: true, verbs: ALL_VERBS, shortNames: ['quota'],
    subresources: STATUS, generation: false, statusSubresource: true, fields: [], returnsDeleted: false,
  },
  {
    group: '', version: 'v1', resource: 'limitranges', kind: 'LimitRange', singular: 'limitrange', namespaced: true, verbs: ALL_VERBS, shortNames: ['limits'],
    subresources: {}, generation: false, statusSubresource: false, fields: [], returnsDeleted: false,
  },
  {
    group: '', version: 'v1', resource: 'serviceaccounts', kind: 'ServiceAccount', singular: 'serviceaccount', namespaced: true, verbs: ALL_VERBS, shortNames: ['sa'],
    subresources: {}, generation: false, statusSubresource: false, fields: [], returnsDeleted: false,
  },
  {
    group: 'apps', version: 'v1', resource: 'deployments', kind: 'Deployment', singular: 'deployment', namespaced: true, verbs: ALL_VERBS, shortNames: ['deploy'], categories: ['all'],
    subresources: STATUS, generation: true, statusSubresource: true, fields: [], returnsDeleted: false,
  },
  {
    group: 'apps', version: 'v1', resource: 'replicasets', kind: 'ReplicaSet', singular: 'replicaset', namespaced: true, verbs: ALL_VERBS, shortNames: ['rs'], categories: ['all'],
    subresources: STATUS, generation: true, statusSubresource: true, fields: ['status.replicas'], returnsDeleted: false,
  },
  {
    group: '', version: 'v1', resource: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim', singular: 'persistentvolumeclaim', namespaced: true, verbs: ALL_VERBS,
    shortNames: ['pvc'], subresources: STATUS, generation: false, statusSubresource: true, fields: [], returnsDeleted: false,
  },
  {
    group: 'apps', version: 'v1', resource: 'statefulsets', kind: 'StatefulSet', singular: 'statefulset', namespaced: true, verbs: ALL_VERBS, shortNames: ['sts'], categories: ['all'],
    subresources: STATUS, generation: true, statusSubresource: true, fields: [], returnsDeleted: false,
  },
  {
    group: 'apps', version: 'v1', resource: 'controllerrevisions', kind: 'ControllerRevision', singular: 'controllerrevision', namespaced: true, verbs: ALL_VERBS,
    subresources: {}, generation: false, statusSubresource: false, fields: [], returnsDeleted: false,
  },
  {
    group: 'batch', version: 'v1', resource: 'jobs', kind: 'Job', singular: 'job', namespaced: true, verbs: ALL_VERBS, categories: ['all'],
    subresources: STATUS, generation: true, statusSubresource: true, fields: ['status.successful'], returnsDeleted: false,
  },
  {
    group: 'storage.k8s.io', version: 'v1', resource: 'storageclasses', kind: 'StorageClass', singular: 'storageclass', namespaced: false, verbs: ALL_VERBS, shortNames: ['sc'],
    subresources: {}, generation: false, statusSubresource: false, fields: [], returnsDeleted: false,
  },
  {
    group: 'networking.k8s.io', version: 'v1', resource: 'ingresses', kind: 'Ingress', singular: 'ingress', namespaced: true, verbs: ALL_VERBS, shortNames: ['ing'],
    subresources: STATUS, generation: true, statusSubresource: true, fields: [], returnsDeleted: false,
  },
  {
    group: 'networking.k8s.io', version: 'v1', resource: 'networkpolicies', kind: 'NetworkPolicy', singular: 'networkpolicy', namespaced: true, verbs: ALL_VERBS, shortNames: ['netpol'],
    subresources: {}, generation: true, statusSubresource: false, fields: [], returnsDeleted: false,
  },
  {
    group: 'authentication.k8s.io', version: 'v1', resource: 'selfsubjectreviews', kind: 'SelfSubjectReview', singular: 'selfsubjectreview',
    namespaced: false, verbs: ['create'], subresources: {}, generation: false, statusSubresource: false, fields: [], returnsDeleted: false,
  },
  {
    group: 'authorization.k8s.io', version: 'v1', resource: 'selfsubjectaccessreviews', kind: 'SelfSubjectAccessReview', singular: 'selfsubjectaccessreview',
    namespaced: false, verbs: ['create'], subresources: {}, generation: false, statusSubresource: false, fields: [], returnsDeleted: false,
  },
  {
    group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'clusterrolebindings', kind: 'ClusterRoleBinding', singular: 'clusterrolebinding', namespaced: false,
    verbs: ALL_VERBS, subresources: {}, generation: false, statusSubresource: false, fields: [], returnsDeleted: false,
  },
  {
    group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'clusterroles', kind: 'ClusterRole', singular: 'clusterrole', namespaced: false,
    verbs: ALL_VERBS, subresources: {}, generation: false, statusSubresource: false, fields: [], returnsDeleted: false,
  },
  {
    group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'rolebindings', kind: 'RoleBinding', singular: 'rolebinding', namespaced: true,
    verbs: ALL_VERBS, subresources: {}, generation: false, statusSubresource: false, fields: [], returnsDeleted: false,
  },
  {
    group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'roles', kind: 'Role', singular: 'role', namespaced: true,
    verbs: ALL_VERBS, subresources: {}, generation: false, statusSubresource: false, fields: [], returnsDeleted: false,
  },
  {
    group: 'admissionregistration.k8s.io', version: 'v1', resource: 'validatingadmissionpolicies', kind: 'ValidatingAdmissionPolicy', singular: 'validatingadmissionpolicy',
    namespaced: false, verbs: ALL_VERBS, categories: ['api-extensions'], subresources: STATUS, generation: true, statusSubresource: true, fields: [], returnsDeleted: false,
  },
  {
    group: 'admissionregistration.k8s.io', version: 'v1', resource: 'validatingadmissionpolicybindings', kind: 'ValidatingAdmissionPolicyBinding',
    singular: 'validatingadmissionpolicybinding', namespaced: false, verbs: ALL_VERBS, categories: ['api-extensions'], subresources: {}, generation: true,
    statusSubresource: false, fields: [], returnsDeleted: false,
  },
];

/** What discovery says a CRD-served resource allows, in the order apiextensions-apiserver lists them. */
const CRD_VERBS = ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch'];
export const GATEWAY_GROUP = 'gateway.networking.k8s.io';
const gatewayKind = (kind: string, resource: string, namespaced: boolean, shortNames: string[] | undefined, mapLists: string[]): ResourceDef => ({
  group: GATEWAY_GROUP, version: 'v1', resource, kind, singular: kind.toLowerCase(), namespaced, verbs: CRD_VERBS, ...(shortNames ? { shortNames } : {}),
  categories: ['gateway-api'], subresources: STATUS, generation: true, statusSubresource: true, fields: [], returnsDeleted: false, crd: { mapLists },
});

/**
 * The Gateway API's standard-channel CRDs (v1.5) the fake serves when asked to (FakeKubernetesOptions.gatewayApi):
 * a cluster without them has no such group at all. Every custom resource keeps metadata.generation.
 */
export const GATEWAY_API_RESOURCES: ResourceDef[] = [
  gatewayKind('GatewayClass', 'gatewayclasses', false, ['gc'], ['status.supportedFeatures']),
  gatewayKind('Gateway', 'gateways', true, ['gtw'], ['spec.listeners', 'status.listeners']),
  gatewayKind('HTTPRoute', 'httproutes', true, undefined, []),
];

export const apiVersionOf = (def: { group: string; version: string }) => (def.group ? `${def.group}/${def.version}` : def.version);
/** `deployments.apps`, `pods`: how error messages name a resource. */
export const qualifiedResource = (def: { group: string; resource: string }) => (def.group ? `${def.resource}.${def.group}` : def.resource);
/** `Deployment.apps`, `Namespace`: how Invalid errors name a kind. */
export const qualifiedKind = (def: { group: string; kind: string }) => (def.group ? `${def.kind}.${def.group}` : def.kind);

/** `served`: what this server serves (the built-in kinds, and the CRDs it was given). */
export function findResource(group: string, version: string, resource: string, served = RESOURCES): ResourceDef | undefined {
  return served.find((d) => d.group === group && d.version === version && d.resource === resource);
}

export function findKind(apiVersion: string, kind: string, served = RESOURCES): ResourceDef | undefined {
  return served.find((d) => apiVersionOf(d) === apiVersion && d.kind === kind);
}

/** How server-side apply and ownership tracking treat a kind's lists (see ListTypes): a CRD's by its schema. */
export function listTypes(def: ResourceDef): ListTypes | undefined {
  const crd = def.crd;
  return crd ? (path) => crd.mapLists.includes(path) : undefined;
}

// Built-in groups first, then the CRDs' groups, as the aggregator orders them.
const groupsOf = (served: ResourceDef[]) => [...new Set(served.filter((d) => d.group).map((d) => d.group))];

function storageVersionHash(def: ResourceDef): string {
  return createHash('sha256').update(`${def.group}/${def.version}/${def.kind}`).digest('base64').slice(0, 11);
}

/** `GET /api/v1`, `GET /apis/<group>/<version>`: the APIResourceList client-node maps kinds to resources with. */
function resourceList(group: string, version: string, served: ResourceDef[]): object | undefined {
  const defs = served.filter((d) => d.group === group && d.version === version);
  if (defs.length === 0) return undefined;
  const resources: object[] = [];
  for (const def of defs) {
    // The main resource must come before its subresources: client-node takes the first entry whose kind matches.
    resources.push({
      name: def.resource,
      singularName: def.singular,
      namespaced: def.namespaced,
      kind: def.kind,
      verbs: def.verbs,
      ...(def.shortNames ? { shortNames: def.shortNames } : {}),
      ...(def.categories ? { categories: def.categories } : {}),
      ...(def.verbs.includes('list') ? { storageVersionHash: storageVersionHash(def) } : {}),
    });
    for (const [sub, verbs] of Object.entries(def.subresources)) {
      resources.push({ name: `${def.resource}/${sub}`, singularName: '', namespaced: def.namespaced, kind: def.kind, verbs });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf({ group, version }), resources };
}

function apiGroup(name: string, served: ResourceDef[]): object | undefined {
  if (!groupsOf(served).includes(name)) return undefined;
  const version = served.find((d) => d.group === name)!.version;
  const gv = { groupVersion: `${name}/${version}`, version };
  return { kind: 'APIGroup', apiVersion: 'v1', name, versions: [gv], preferredVersion: gv };
}

function apiGroupList(served: ResourceDef[]): object {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: groupsOf(served).map((name) => {
      const { kind: _k, apiVersion: _a, ...group } = apiGroup(name, served) as Record<string, unknown>;
      return group;
    }),
  };
}

/** The discovery documents: /version, /api, /apis, /api/v1, /apis/{group}, /apis/{group}/{version}; undefined: 404. */
export function discoveryDocument(pathname: string, port: number, served = RESOURCES): unknown {
  if (pathname === '/version') {
    return { major: '1', minor: '30', gitVersion: 'v1.30.0', gitCommit: '7c48c2bd72b9bf5c44d21d7338cc7bea77d0ad2a', gitTreeState: 'clean', buildDate: '2024-04-17T17:27:03Z', goVersion: 'go1.22.2', compiler: 'gc', platform: 'linux/amd64' };
  }
  if (pathname === '/api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${port}` }] };
  if (pathname === '/apis') return apiGroupList(served);
  const parts = pathname.split('/').filter(Boolean);
  if (parts[0] === 'api' && parts.length === 2) return resourceList('', parts[1]!, served);
  if (parts[0] === 'apis' && parts.length === 2) return apiGroup(parts[1]!, served);
  if (parts[0] === 'apis' && parts.length === 3) return resourceList(parts[1]!, parts[2]!, served);
  return undefined;
}

export const isDiscoveryPath = (pathname: string) => {
  const parts = pathname.split('/').filter(Boolean);
  return pathname === '/version' || (parts[0] === 'api' && parts.length <= 2) || (parts[0] === 'apis' && parts.length <= 3);
};
