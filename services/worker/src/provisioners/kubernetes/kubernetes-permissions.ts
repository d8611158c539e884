/**
 * Every (API group, resource, verb) the Kubernetes provisioner uses, and nothing else: the worker checks them at
 * start (SelfSubjectAccessReview), and the ClusterRole shipped for it grants exactly these.
 *
 * Server-side apply is a PATCH, and creating an object by applying it also needs `create`.
 */
export const KUBERNETES_PERMISSIONS = [
  { group: '', resource: 'namespaces', verbs: ['get', 'list', 'create', 'patch', 'delete'] },
  { group: '', resource: 'resourcequotas', verbs: ['list', 'create', 'patch', 'delete'] },
  { group: '', resource: 'limitranges', verbs: ['list', 'create', 'patch', 'delete'] },
  // `get` reads the Secrets copied into previews (PREVIEW_SECRETS_NAMESPACE, the pull and TLS secrets).
  { group: '', resource: 'secrets', verbs: ['get', 'list', 'create', 'patch', 'delete'] },
  { group: '', resource: 'services', verbs: ['list', 'create', 'patch', 'delete'] },
  // Rollouts are watched: Deployments, their ReplicaSets (which one is current), Pods and Events.
  { group: '', resource: 'pods', verbs: ['list', 'watch'] },
  { group: '', resource: 'pods/log', verbs: ['get'] },
  { group: '', resource: 'events', verbs: ['list', 'watch'] },
  { group: 'apps', resource: 'deployments', verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
  { group: 'apps', resource: 'replicasets', verbs: ['list', 'watch'] },
  { group: 'networking.k8s.io', resource: 'networkpolicies', verbs: ['list', 'create', 'patch', 'delete'] },
  { group: 'networking.k8s.io', resource: 'ingresses', verbs: ['list', 'create', 'patch', 'delete'] },
] as const;

