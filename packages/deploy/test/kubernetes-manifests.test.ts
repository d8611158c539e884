/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are arbitrary Kubernetes JSON */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { ValidatingAdmissionPolicy } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy';
import { ValidatingAdmissionPolicyBinding } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding';
import { Gateway } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway';
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { ingestConfigSchema, loadIngestConfig } from '../../../services/ingest/src/config.js';
import { loadQueryConfig, queryConfigSchema } from '../../../services/query/src/config.js';
import { loadWorkerConfig, previewGateway, workerConfigSchema } from '../../../services/worker/src/config.js';
import { LABELS, MANAGED_BY } from '../../../services/worker/src/provisioners/kubernetes/preview-labels.js';
import { kustomizeBuild, type KubeObject } from './kustomize.js';
import { probePasses, runRedisStart } from './redis-start.js';

// deploy/kubernetes rendered the way `kubectl apply -k` renders it (by kustomize.ts: no kustomize binary is
// installed where the tests run), then checked against Kubernetes' own schemas (the Gateway API's for HTTPRoutes),
// the services' own configuration schemas, the Dockerfile, and the rules a production install needs; the gateway
// overlay's HTTPRoutes against the base's Ingresses. The worker's rights are rbac.test.ts's.

const root = fileURLToPath(new URL('../../../', import.meta.url));
const KUBE = path.join(root, 'deploy/kubernetes');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

const TREES = ['base', 'production', 'gateway', 'try'] as const;
type Tree = (typeof TREES)[number];
const rendered: Record<Tree, KubeObject[]> = {
  base: kustomizeBuild(path.join(KUBE, 'base')),
  production: kustomizeBuild(path.join(KUBE, 'overlays/production')),
  gateway: kustomizeBuild(path.join(KUBE, 'overlays/gateway')),
  try: kustomizeBuild(path.join(KUBE, 'overlays/try')),
};
/** How each tree exposes Ephemera: the base's Ingresses, or HTTPRoutes attached to the operator's Gateway. */
const ROUTING: Record<Tree, 'ingress' | 'gateway'> = { base: 'ingress', production: 'ingress', gateway: 'gateway', try: 'ingress' };
const INGRESS_TREES = TREES.filter((t) => ROUTING[t] === 'ingress');
/** The production-like trees: at least two of every service, TLS at the entry. */
const PRODUCTION_TREES: readonly Tree[] = ['production', 'gateway'];
/** The Gateway the gateway overlay's HTTPRoutes attach to, and the namespace its data plane runs in (placeholders). */
const GATEWAY = { namespace: 'gateway-system', name: 'public', sectionName: 'https' };
const GATEWAY_DATA_PLANE_NAMESPACE = 'gateway-system';

const NAMESPACE = 'ephemera';
const SERVICES = ['ingest', 'worker', 'query'] as const;
type ServiceName = (typeof SERVICES)[number];
const PORTS: Record<ServiceName, { variable: string; port: number }> = {
  ingest: { variable: 'INGEST_PORT', port: 3001 },
  worker: { variable: 'WORKER_PORT', port: 3003 },
  query: { variable: 'QUERY_PORT', port: 3002 },
};
/** The one image of every service and the migrations (the Dockerfile's `ephemera` target). */
const IMAGE = 'ghcr.io/ephemera-dev/ephemera';
const TAGS: Record<Tree, string> = { base: '0.1.0', production: '0.1.0', gateway: '0.1.0', try: 'dev' };
/**
 * What the operator puts in the Secret ephemera-secrets: the only keys, never written in the manifests. Production
 * (and the base) name their Redis by REDIS_URL, password included; the try overlay runs its own Redis, which requires
 * REDIS_PASSWORD, and builds the services' REDIS_URL from that key.
 */
const SECRET_KEYS_COMMON = [
  'ADMIN_PASSWORD',
  'API_TOKENS',
  'API_WRITE_TOKENS',
  'DATABASE_URL',
  'GITHUB_APP_PRIVATE_KEY',
  'GITHUB_CLIENT_SECRET',
  'GITHUB_WEBHOOK_SECRET',
  'QUEUE_SIGNING_KEY',
  'QUEUE_SIGNING_KEY_PREVIOUS',
  'SESSION_SECRET',
];
const SECRET_KEYS: Record<Tree, string[]> = {
  base: [...SECRET_KEYS_COMMON, 'REDIS_URL'].sort(),
  production: [...SECRET_KEYS_COMMON, 'REDIS_URL'].sort(),
  gateway: [...SECRET_KEYS_COMMON, 'REDIS_URL'].sort(),
  try: [...SECRET_KEYS_COMMON, 'REDIS_PASSWORD'].sort(),
};
/** Keys the Secret may leave out: the feature they enable is off without them (an install from before keeps working). */
const OPTIONAL_SECRET_KEYS = ['API_WRITE_TOKENS', 'QUEUE_SIGNING_KEY_PREVIOUS'];
const OPERATOR_SECRETS: Record<string, string> = {
  DATABASE_URL: 'postgresql://ephemera:s3cret-pw@db.internal:5432/ephemera',
  REDIS_URL: 'redis://:9c1e07b5d4a2e8c6@redis.internal:6379',
  // The try overlay's Redis (letters, digits and . _ ~ - only: REDIS_URL carries it unescaped).
  REDIS_PASSWORD: 'f3a9c1e07b5d4a2e8c6b9d0f1e2a3b4c',
  GITHUB_WEBHOOK_SECRET: 'b7e2c94f1a0d4c3e9f5b6a8d2e1c0f9a',
  GITHUB_APP_PRIVATE_KEY: '-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\n-----END RSA PRIVATE KEY-----\n',
  API_TOKENS: 'tok-3f9a1c7e5b2d',
  ADMIN_PASSWORD: 'a-long-dashboard-password',
  SESSION_SECRET: 'e1b0c7d94f2a6b3c8d5e0f1a2b3c4d5e',
  QUEUE_SIGNING_KEY: '4c7e1a9f0b3d5e2c8a6f1d0e9b7c3a5f2e8d4b1c6a0f9e3d7b5c2a8e1f4d6b0c',
  // Empty: GitHub sign-in off.
  GITHUB_CLIENT_SECRET: '',
};
/** `node` in the official node images, which the Dockerfile's stages run as (USER node). */
const NODE_UID = 1000;

const find = (objects: KubeObject[], kind: string, name: string): any => objects.find((o) => o.kind === kind && o.metadata.name === name);
const ofKind = (objects: KubeObject[], kind: string): any[] => objects.filter((o) => o.kind === kind);
const podTemplates = (objects: KubeObject[]): Array<{ owner: string; component: string; spec: any; labels: Record<string, string> }> =>
  objects
    .filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind))
    .map((o: any) => ({
      owner: `${o.kind}/${o.metadata.name}`,
      component: o.spec.template.metadata.labels['app.kubernetes.io/component'],
      spec: o.spec.template.spec,
      labels: o.spec.template.metadata.labels,
    }));
const containersOf = (spec: any): any[] => [...(spec.initContainers ?? []), ...spec.containers];
const isEphemeraImage = (image: string) => image.startsWith(`${IMAGE}:`);

function quantity(q: string | number): number {
  const m = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(q));
  if (!m) throw new Error(`not a quantity: ${q}`);
  const factor: Record<string, number> = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
  return Number(m[1]) * (m[2] ? factor[m[2]]! : 1);
}

/**
 * Kubernetes' dependent variables, as the kubelet expands `value`, `command` and `args`: `$(NAME)` is NAME's value
 * when it is defined before (else left as written), `$$` is one `$`.
 */
function expand(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name?: string) => (name === undefined ? '$' : (env[name] ?? whole)));
}

/** A container's environment as the kubelet builds it: envFrom, then env (which wins), with Secrets resolved. */
function environmentOf(objects: KubeObject[], container: any, secrets: Record<string, string> = OPERATOR_SECRETS): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) Object.assign(env, find(objects, 'ConfigMap', from.configMapRef.name).data);
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = expand(e.value, env);
    else if (e.valueFrom?.secretKeyRef) {
      // A key missing from the Secret leaves an optional variable unset and stops a container that requires it.
      const { key, optional } = e.valueFrom.secretKeyRef;
      if (secrets[key] !== undefined) env[e.name] = secrets[key];
      else if (!optional) throw new Error(`the Secret has no key ${key}, which ${e.name} requires`);
    }
    else if (e.valueFrom?.configMapKeyRef) env[e.name] = find(objects, 'ConfigMap', e.valueFrom.configMapKeyRef.name).data[e.valueFrom.configMapKeyRef.key];
  }
  return env;
}

const tmpDirs: string[] = [];
afterAll(() => tmpDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tmp(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ephemera-kustomize-'));
  tmpDirs.push(dir);
  return dir;
}
function writeTree(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
}

// ------------------------------------------------------------------------------------------------ rendering

/** Every renderer feature deploy/kubernetes uses, and what kustomize v5.5.0 (kubectl 1.32) renders from it. */
const FIXTURE = {
  'base/kustomization.yaml': `namespace: one
labels:
  - pairs: { team: a }
resources: [objects.yaml]
images:
  - { name: app, newName: registry.test/app, newTag: "2" }
  - { name: side, digest: "sha256:0123" }
`,
  'base/objects.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: { name: web, annotations: { drop: me, keep: me } }
spec:
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - name: main
          image: app:1
          env: [{ name: A, value: "1" }, { name: B, value: "2" }]
          ports: [{ containerPort: 80, name: http }]
        - name: side
          image: side:1
---
apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ name: http, port: 80 }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: rb }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: r }
subjects:
  - { kind: ServiceAccount, name: default }
  - { kind: ServiceAccount, name: app, namespace: elsewhere }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: dropped }
data: { k: v }
`,
  'overlay/kustomization.yaml': `namespace: two
resources: [../base, extra.yaml]
patches:
  - path: web.yaml
  - patch: |-
      $patch: delete
      apiVersion: v1
      kind: ConfigMap
      metadata: { name: dropped }
  - target: { kind: Serv.*, name: web }
    patch: |-
      - { op: add, path: /spec/ports/-, value: { name: metrics, port: 9090 } }
      - { op: copy, from: /spec/ports/0/port, path: /spec/sessionAffinityConfig }
      - { op: remove, path: /spec/sessionAffinityConfig }
      - { op: move, from: /spec/ports/1, path: /spec/ports/0 }
      - { op: test, path: /spec/ports/0/name, value: metrics }
images:
  - { name: registry.test/app, newTag: "3" }
`,
  'overlay/web.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: { name: web, annotations: { drop: null, added: "yes" } }
spec:
  template:
    spec:
      containers:
        - name: main
          env: [{ name: B, value: "3" }, { name: C, value: "4" }]
          ports: [{ containerPort: 9090, name: metrics }]
          resources: { limits: { memory: 1Gi } }
        - name: extra
          image: app:9
      tolerations: [{ key: k, operator: Exists }]
`,
  'overlay/extra.yaml': `apiVersion: v1
kind: ConfigMap
metadata: { name: extra }
data: { k: v }
`,
};
const FIXTURE_RENDERED_BY_KUSTOMIZE = `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  labels:
    team: a
  name: rb
  namespace: two
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: r
subjects:
- kind: ServiceAccount
  name: default
  namespace: two
- kind: ServiceAccount
  name: app
  namespace: elsewhere
---
apiVersion: v1
data:
  k: v
kind: ConfigMap
metadata:
  name: extra
  namespace: two
---
apiVersion: v1
kind: Service
metadata:
  labels:
    team: a
  name: web
  namespace: two
spec:
  ports:
  - name: metrics
    port: 9090
  - name: http
    port: 80
  selector:
    app: web
---
apiVersion: apps/v1
kind: Deployment
metadata:
  annotations:
    added: "yes"
    keep: me
  labels:
    team: a
  name: web
  namespace: two
spec:
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - env:
        - name: B
          value: "3"
        - name: C
          value: "4"
        - name: A
          value: "1"
        image: registry.test/app:3
        name: main
        ports:
        - containerPort: 9090
          name: metrics
        - containerPort: 80
          name: http
        resources:
          limits:
            memory: 1Gi
      - image: app:9
        name: extra
      - image: side@sha256:0123
        name: side
      tolerations:
      - key: k
        operator: Exists
`;

/** A Component (as components/gateway is one) applied by an overlay, and what kustomize v5.5.0 renders from it. */
const COMPONENT_FIXTURE = {
  'app/kustomization.yaml': 'namespace: one\nresources: [objects.yaml]\n',
  'app/objects.yaml': `apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ name: http, port: 80 }]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: web }
spec:
  rules:
    - host: web.test
      http:
        paths: [{ path: /, pathType: Prefix, backend: { service: { name: web, port: { name: http } } } }]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: web-extra }
spec:
  rules:
    - host: web.test
      http:
        paths: [{ path: /extra, pathType: Exact, backend: { service: { name: web, port: { name: http } } } }]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: web }
spec:
  podSelector: { matchLabels: { app: web } }
  ingress:
    - from: [{ namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: ingress-nginx } } }]
`,
  'component/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
resources: [route.yaml]
labels:
  - pairs: { routed: gateway }
patches:
  - target: { group: networking.k8s.io, kind: Ingress }
    patch: |-
      $patch: delete
      apiVersion: networking.k8s.io/v1
      kind: Ingress
      metadata: { name: any }
  - target: { kind: NetworkPolicy, name: we.* }
    patch: |-
      - { op: test, path: /spec/ingress/0/from/0/namespaceSelector/matchLabels/kubernetes.io~1metadata.name, value: ingress-nginx }
      - { op: replace, path: /spec/ingress/0/from/0/namespaceSelector/matchLabels/kubernetes.io~1metadata.name, value: gateway-system }
`,
  'component/route.yaml': `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: web }
spec:
  parentRefs: [{ name: public, namespace: gateway-system }]
  hostnames: [web.test]
  rules: [{ backendRefs: [{ name: web, port: 80 }] }]
`,
  'overlay/kustomization.yaml': `namespace: two
resources: [../app]
components: [../component]
patches:
  - target: { kind: HTTPRoute }
    patch: |-
      - { op: replace, path: /spec/hostnames/0, value: web.example }
`,
};
// The component's labels reach the objects built before it; its patches run before the overlay's own.
const COMPONENT_FIXTURE_RENDERED_BY_KUSTOMIZE = `apiVersion: v1
kind: Service
metadata:
  labels:
    routed: gateway
  name: web
  namespace: two
spec:
  ports:
  - name: http
    port: 80
  selector:
    app: web
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  labels:
    routed: gateway
  name: web
  namespace: two
spec:
  hostnames:
  - web.example
  parentRefs:
  - name: public
    namespace: gateway-system
  rules:
  - backendRefs:
    - name: web
      port: 80
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  labels:
    routed: gateway
  name: web
  namespace: two
spec:
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: gateway-system
  podSelector:
    matchLabels:
      app: web
`;

describe('rendering deploy/kubernetes', () => {
  it('renders as kustomize does: resources, namespace, labels, images, strategic merge (a deletion too) and JSON 6902 patches, order', () => {
    const dir = tmp();
    writeTree(dir, FIXTURE);
    const expected = parseAllDocuments(FIXTURE_RENDERED_BY_KUSTOMIZE).map((d) => d.toJS());
    expect(kustomizeBuild(path.join(dir, 'overlay'))).toEqual(expected);
  });

  it('refuses what it does not implement instead of rendering something else', () => {
    const dir = tmp();
    writeTree(dir, {
      'generator/kustomization.yaml': 'configMapGenerator:\n  - name: x\n    literals: [a=b]\n',
      'directive/kustomization.yaml': `resources: [../base]\npatches:\n  - patch: |-\n      apiVersion: apps/v1\n      kind: Deployment\n      metadata: { name: web }\n      spec: { $patch: replace }\n`,
      'templates/kustomization.yaml': 'labels:\n  - pairs: { a: b }\n    includeTemplates: true\n',
      'base/kustomization.yaml': FIXTURE['base/kustomization.yaml'],
      'base/objects.yaml': FIXTURE['base/objects.yaml'],
      'twice/kustomization.yaml': 'resources: [../base/objects.yaml, ../base/objects.yaml]\n',
    });
    expect(() => kustomizeBuild(path.join(dir, 'generator'))).toThrow(/"configMapGenerator" is not implemented/);
    expect(() => kustomizeBuild(path.join(dir, 'directive'))).toThrow(/directive \$patch .* is not implemented/);
    expect(() => kustomizeBuild(path.join(dir, 'templates'))).toThrow(/labels options includeTemplates are not implemented/);
    expect(() => kustomizeBuild(path.join(dir, 'twice'))).toThrow(/already registered id/);
  });

  it('renders a Component as kustomize does: its resources and patches applied to what the including kustomization built, before that one\'s own', () => {
    const dir = tmp();
    writeTree(dir, COMPONENT_FIXTURE);
    const expected = parseAllDocuments(COMPONENT_FIXTURE_RENDERED_BY_KUSTOMIZE).map((d) => d.toJS());
    expect(kustomizeBuild(path.join(dir, 'overlay'))).toEqual(expected);
    // As kustomize: a Component is no resource, a Kustomization no component, and a Component's apiVersion is v1alpha1.
    writeTree(dir, {
      'as-resource/kustomization.yaml': 'resources: [../component]\n',
      'as-component/kustomization.yaml': 'components: [../app]\n',
      'beta/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Component\n',
      'with-beta/kustomization.yaml': 'components: [../beta]\n',
    });
    expect(() => kustomizeBuild(path.join(dir, 'as-resource'))).toThrow(/expected kind != 'Component'/);
    expect(() => kustomizeBuild(path.join(dir, 'as-component'))).toThrow(/expected kind 'Component'/);
    expect(() => kustomizeBuild(path.join(dir, 'with-beta'))).toThrow(/apiVersion for Component should be kustomize.config.k8s.io\/v1alpha1/);
    // The JSON 6902 test of the controller's namespace holds the component to the base it was written for.
    writeTree(dir, { 'app/objects.yaml': COMPONENT_FIXTURE['app/objects.yaml'].replace('name: ingress-nginx', 'name: traefik') });
    expect(() => kustomizeBuild(path.join(dir, 'overlay'))).toThrow(/test of .* failed/);
  });

  // Where kubectl is installed (a developer's machine, the kind workflow), its kustomize renders the same objects.
  const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
  (kubectl ? it.each(TREES) : it.skip.each(TREES))('%s: renders exactly as `kubectl kustomize` (when kubectl is installed)', (tree) => {
    const dir = path.join(KUBE, tree === 'base' ? 'base' : `overlays/${tree}`);
    const byKubectl = parseAllDocuments(execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' })).map((d) => d.toJS());
    expect(rendered[tree]).toEqual(byKubectl);
  });

  it.each(TREES)('%s: the objects the install is made of, under the names the contract fixes, in namespace ephemera', (tree) => {
    const objects = rendered[tree];
    const names = (kind: string) => ofKind(objects, kind).map((o) => o.metadata.name).sort();
    expect(names('Namespace')).toEqual([NAMESPACE]);
    expect(names('Deployment')).toEqual(['ingest', 'query', 'worker']);
    expect(names('Service')).toEqual(tree === 'try' ? ['ingest', 'postgres', 'query', 'redis'] : ['ingest', 'query']);
    // The public entry: two Ingresses, or (gateway) two HTTPRoutes of the same names, never both.
    expect(names('Ingress')).toEqual(ROUTING[tree] === 'ingress' ? ['ephemera', 'ephemera-operator-sign-in'] : []);
    expect(names('HTTPRoute')).toEqual(ROUTING[tree] === 'gateway' ? ['ephemera', 'ephemera-operator-sign-in'] : []);
    expect(names('Job')).toEqual(['ephemera-migrate']);
    expect(names('HorizontalPodAutoscaler')).toEqual(['ingest', 'query', 'worker']);
    expect(names('PodDisruptionBudget')).toEqual(['ingest', 'query', 'worker']);
    expect(names('ServiceAccount')).toEqual(['ephemera-ingest', 'ephemera-migrate', 'ephemera-query', 'ephemera-worker']);
    expect(names('ClusterRole')).toEqual(['ephemera-preview', 'ephemera-provisioner']);
    expect(names('ValidatingAdmissionPolicy')).toEqual(['ephemera-worker-namespaces', 'ephemera-worker-rolebindings']);
    expect(names('ValidatingAdmissionPolicyBinding')).toEqual(['ephemera-worker-namespaces', 'ephemera-worker-rolebindings']);
    expect(names('ClusterRoleBinding')).toEqual(['ephemera-provisioner']);
    expect(names('ConfigMap')).toEqual(['ephemera-config']);
    expect(names('StatefulSet')).toEqual(tree === 'try' ? ['postgres', 'redis'] : []);
    expect(names('NetworkPolicy')).toEqual(expect.arrayContaining(['ephemera-default-deny', 'ephemera-dns', 'ephemera-ingest', 'ephemera-query', 'ephemera-worker']));
    // The operator creates the Secrets; the manifests hold none, and nothing else.
    expect(names('Secret')).toEqual([]);
    expect(names('Role')).toEqual([]);
    expect(names('RoleBinding')).toEqual([]);
    for (const o of objects) {
      // kustomize before v5.8 sets its namespace on the admission policy kinds too; the API server ignores it there.
      const clusterScoped = ['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind);
      expect(`${o.kind}/${o.metadata.name} ${o.metadata.namespace ?? '(cluster)'}`).toBe(`${o.kind}/${o.metadata.name} ${clusterScoped ? '(cluster)' : NAMESPACE}`);
      expect(o.metadata.labels?.['app.kubernetes.io/part-of']).toBe('ephemera');
    }
  });
});

// ------------------------------------------------------------------------------------------------ schemas

const MODELS: Record<string, { validate: (o: any) => void; typeName: string }> = {
  Namespace: { validate: (o) => new Namespace(o).validate(), typeName: 'V1Namespace' },
  ConfigMap: { validate: (o) => new ConfigMap(o).validate(), typeName: 'V1ConfigMap' },
  Service: { validate: (o) => new Service(o).validate(), typeName: 'V1Service' },
  ServiceAccount: { validate: (o) => new ServiceAccount(o).validate(), typeName: 'V1ServiceAccount' },
  Deployment: { validate: (o) => new Deployment(o).validate(), typeName: 'V1Deployment' },
  StatefulSet: { validate: (o) => new StatefulSet(o).validate(), typeName: 'V1StatefulSet' },
  Job: { validate: (o) => new Job(o).validate(), typeName: 'V1Job' },
  HorizontalPodAutoscaler: { validate: (o) => new HorizontalPodAutoscaler(o).validate(), typeName: 'V2HorizontalPodAutoscaler' },
  PodDisruptionBudget: { validate: (o) => new PodDisruptionBudget(o).validate(), typeName: 'V1PodDisruptionBudget' },
  Ingress: { validate: (o) => new Ingress(o).validate(), typeName: 'V1Ingress' },
  NetworkPolicy: { validate: (o) => new NetworkPolicy(o).validate(), typeName: 'V1NetworkPolicy' },
  ClusterRole: { validate: (o) => new ClusterRole(o).validate(), typeName: 'V1ClusterRole' },
  ClusterRoleBinding: { validate: (o) => new ClusterRoleBinding(o).validate(), typeName: 'V1ClusterRoleBinding' },
  ValidatingAdmissionPolicy: { validate: (o) => new ValidatingAdmissionPolicy(o).validate(), typeName: 'V1ValidatingAdmissionPolicy' },
  ValidatingAdmissionPolicyBinding: { validate: (o) => new ValidatingAdmissionPolicyBinding(o).validate(), typeName: 'V1ValidatingAdmissionPolicyBinding' },
  // The Gateway API's own schemas (gateway.networking.k8s.io/v1, as @kubernetes-models/gateway-api generates them).
  HTTPRoute: { validate: (o) => new HTTPRoute(o).validate(), typeName: 'IIoK8sSigsGatewayApiApisV1HTTPRoute' },
};
const EXPECTED_API_VERSIONS: Record<string, string> = {
  Namespace: 'v1',
  ConfigMap: 'v1',
  Service: 'v1',
  ServiceAccount: 'v1',
  Deployment: 'apps/v1',
  StatefulSet: 'apps/v1',
  Job: 'batch/v1',
  HorizontalPodAutoscaler: 'autoscaling/v2',
  PodDisruptionBudget: 'policy/v1',
  Ingress: 'networking.k8s.io/v1',
  NetworkPolicy: 'networking.k8s.io/v1',
  ClusterRole: 'rbac.authorization.k8s.io/v1',
  ClusterRoleBinding: 'rbac.authorization.k8s.io/v1',
  ValidatingAdmissionPolicy: 'admissionregistration.k8s.io/v1',
  ValidatingAdmissionPolicyBinding: 'admissionregistration.k8s.io/v1',
  HTTPRoute: 'gateway.networking.k8s.io/v1',
};

/** The Gateway API's types as @kubernetes-models/gateway-api declares them (`IIoK8sSigsGatewayApiApisV1<Name>`). */
const GATEWAY_API_TYPE = 'IIoK8sSigsGatewayApiApisV1';
const GATEWAY_API_DECLARATIONS = fileURLToPath(new URL('../node_modules/@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/', import.meta.url));

/**
 * The fields of a Gateway API type, read from the declaration of its model class (`"name"?: Type;`, inherited fields
 * included); undefined for a type that is not an object of named fields (a string, a number).
 */
function gatewayApiAttributes(type: string): Array<{ baseName: string; type: string }> | undefined {
  const name = type.slice(GATEWAY_API_TYPE.length);
  const declaration = readFileSync(path.join(GATEWAY_API_DECLARATIONS, `${name}.d.ts`), 'utf8');
  const body = new RegExp(`^export declare class ${name}\\b[^{]*\\{\\n([^]*?)^\\}`, 'm').exec(declaration)?.[1];
  if (body === undefined) return undefined;
  return [...body.matchAll(/^ {4}"([^"]+)"\??: (.+?);?$/gm)].map((m) => ({ baseName: m[1]!, type: m[2]! }));
}

/**
 * Fields the Kubernetes API does not know (a misspelt `readOnlyRootFileSystem` would be dropped silently by the
 * API server, and kubernetes-models' schemas allow unknown fields): walked with the type map of the official
 * client's models.
 */
function unknownFields(value: unknown, type: string, at: string, out: string[]): void {
  if (value === null || value === undefined) return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, array[1]!, `${at}[${i}]`, out));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    for (const [k, v] of Object.entries(value as object)) unknownFields(v, map[1]!, `${at}.${k}`, out);
    return;
  }
  // The Gateway API's objects carry Kubernetes' own ObjectMeta.
  if (type === 'IIoK8sApimachineryPkgApisMetaV1ObjectMeta') return unknownFields(value, 'V1ObjectMeta', at, out);
  const model = (k8s as unknown as Record<string, { getAttributeTypeMap?: () => Array<{ baseName: string; type: string }> }>)[type];
  const attributes = type.startsWith(GATEWAY_API_TYPE) ? gatewayApiAttributes(type) : model?.getAttributeTypeMap?.();
  if (!attributes || typeof value !== 'object' || Array.isArray(value)) return;
  for (const [k, v] of Object.entries(value)) {
    const attribute = attributes.find((a) => a.baseName === k);
    if (!attribute) out.push(`${at}.${k}`);
    else unknownFields(v, attribute.type, `${at}.${k}`, out);
  }
}

describe('Kubernetes schemas', () => {
  it.each(TREES)('%s: every object is valid against Kubernetes\' OpenAPI schemas (kubernetes-models)', (tree) => {
    for (const o of rendered[tree]) {
      const model = MODELS[o.kind];
      expect(model ? o.kind : `${o.kind} has no schema here`).toBe(o.kind);
      expect(`${o.kind} ${o.apiVersion}`).toBe(`${o.kind} ${EXPECTED_API_VERSIONS[o.kind]}`);
      expect(() => model!.validate(o)).not.toThrow();
    }
  });

  it.each(TREES)('%s: no object has a field the Kubernetes API does not know', (tree) => {
    const unknown: string[] = [];
    for (const o of rendered[tree]) unknownFields(o, MODELS[o.kind]!.typeName, `${o.kind}/${o.metadata.name}`, unknown);
    expect(unknown).toEqual([]);
    // The check itself sees a misspelling.
    const probe: string[] = [];
    unknownFields({ spec: { template: { spec: { containers: [{ name: 'x', securityContext: { readOnlyRootFileSystem: true } }] } } } }, 'V1Deployment', 'probe', probe);
    expect(probe).toEqual(['probe.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem']);
    // …and in an HTTPRoute, to the depth of a match's path and in its metadata.
    const route: string[] = [];
    unknownFields(
      { metadata: { name: 'r', label: {} }, spec: { parentRefs: [{ name: 'g', section: 'https' }], rules: [{ matches: [{ path: { type: 'Exact', value: '/', prefix: true } }], backendRef: [] }] } },
      MODELS.HTTPRoute!.typeName,
      'probe',
      route,
    );
    expect(route.sort()).toEqual(['probe.metadata.label', 'probe.spec.parentRefs[0].section', 'probe.spec.rules[0].backendRef', 'probe.spec.rules[0].matches[0].path.prefix']);
  });
});

// ------------------------------------------------------------------------------------------------ workloads

describe('workloads', () => {
  it('the Dockerfile runs every image as `node` (uid 1000) of node:20-bookworm-slim', () => {
    const dockerfile = read('Dockerfile');
    for (const stage of ['service', 'migrate']) {
      const body = dockerfile.split(/^FROM /m).find((s) => new RegExp(`AS ${stage}\\b`).test(s.split('\n')[0]!))!;
      expect(body.split('\n')[0]).toMatch(/^node:20-bookworm-slim AS/);
      expect(body).toMatch(/^USER node$/m);
    }
  });

  it.each(TREES)('%s: every pod runs as non-root with a read-only root, no privilege escalation, no capabilities, seccomp RuntimeDefault', (tree) => {
    const templates = podTemplates(rendered[tree]);
    expect(templates.length).toBe(tree === 'try' ? 6 : 4);
    for (const { owner, spec } of templates) {
      const pod = spec.securityContext;
      expect({ owner, runAsNonRoot: pod.runAsNonRoot, seccomp: pod.seccompProfile?.type }).toEqual({ owner, runAsNonRoot: true, seccomp: 'RuntimeDefault' });
      expect(Number.isInteger(pod.runAsUser) && pod.runAsUser > 0).toBe(true);
      for (const c of containersOf(spec)) {
        expect({ owner, container: c.name, ...c.securityContext }).toEqual({
          owner,
          container: c.name,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        if (isEphemeraImage(c.image)) {
          expect(pod.runAsUser).toBe(NODE_UID);
          // A writable /tmp (tsx's cache in the migrate image; anything a library puts in os.tmpdir()).
          expect(c.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
          expect(spec.volumes.find((v: any) => v.name === 'tmp')).toMatchObject({ emptyDir: {} });
        }
      }
    }
  });

  it.each(TREES)('%s: every container requests and is limited in CPU and memory', (tree) => {
    for (const { owner, spec } of podTemplates(rendered[tree])) {
      for (const c of containersOf(spec)) {
        for (const r of ['cpu', 'memory']) {
          const request = c.resources?.requests?.[r];
          const limit = c.resources?.limits?.[r];
          expect({ owner, container: c.name, r, request: request !== undefined, limit: limit !== undefined }).toEqual({ owner, container: c.name, r, request: true, limit: true });
          expect(quantity(limit)).toBeGreaterThanOrEqual(quantity(request));
        }
      }
    }
  });

  it.each(TREES)('%s: each service is probed on its port: liveness /healthz, readiness /readyz', (tree) => {
    const objects = rendered[tree];
    for (const name of SERVICES) {
      const spec = find(objects, 'Deployment', name).spec.template.spec;
      const c = spec.containers.find((x: any) => x.name === name);
      const port = c.ports[0];
      expect(port.containerPort).toBe(PORTS[name].port);
      expect(environmentOf(objects, c)[PORTS[name].variable]).toBe(String(PORTS[name].port));
      expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: port.name });
      expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: port.name });
      expect(c.startupProbe.httpGet).toEqual({ path: '/healthz', port: port.name });
      const service = find(objects, 'Service', name);
      if (name === 'worker') {
        expect(service).toBeUndefined();
      } else {
        expect(service.spec.ports).toEqual([{ name: 'http', port: PORTS[name].port, targetPort: port.name }]);
        expect(service.spec.selector).toEqual(find(objects, 'Deployment', name).spec.selector.matchLabels);
      }
    }
    for (const s of ofKind(objects, 'StatefulSet')) {
      const c = s.spec.template.spec.containers[0];
      expect(c.livenessProbe && c.readinessProbe).toBeTruthy();
    }
  });

  it.each(TREES)('%s: the grace period outlasts each service\'s own shutdown (SHUTDOWN_TIMEOUT_MS for the worker)', (tree) => {
    const objects = rendered[tree];
    // ingest and query stop within onShutdown's default bound (packages/runtime), the worker within SHUTDOWN_TIMEOUT_MS.
    const runtimeBound = /timeoutMs = ([\d_]+)\)/.exec(read('packages/runtime/src/shutdown.ts'))![1]!;
    const config = find(objects, 'ConfigMap', 'ephemera-config').data;
    const workerBound = Number(config.SHUTDOWN_TIMEOUT_MS ?? workerConfigSchema.shape.SHUTDOWN_TIMEOUT_MS.parse(undefined));
    expect(workerBound).toBe(25_000);
    for (const name of SERVICES) {
      const spec = find(objects, 'Deployment', name).spec.template.spec;
      const c = spec.containers[0];
      const preStop = c.lifecycle?.preStop ? Number(c.lifecycle.preStop.exec.command[1]) : 0;
      const bound = name === 'worker' ? workerBound : Number(runtimeBound.replace(/_/g, ''));
      expect(spec.terminationGracePeriodSeconds).toBeGreaterThan(preStop + bound / 1000);
      if (name !== 'worker') expect(c.lifecycle.preStop.exec.command).toEqual(['sleep', String(preStop)]);
    }
  });

  it.each(TREES)('%s: only the worker mounts a service account token; every workload has an account of its own; no service links', (tree) => {
    const objects = rendered[tree];
    const accounts = Object.fromEntries(ofKind(objects, 'ServiceAccount').map((sa) => [sa.metadata.name, sa.automountServiceAccountToken]));
    expect(accounts).toEqual({ 'ephemera-worker': true, 'ephemera-ingest': false, 'ephemera-query': false, 'ephemera-migrate': false });
    for (const { owner, component, spec } of podTemplates(objects)) {
      const isEphemera = ['ingest', 'worker', 'query', 'migrate'].includes(component);
      expect({ owner, automount: spec.automountServiceAccountToken, links: spec.enableServiceLinks }).toEqual({ owner, automount: component === 'worker', links: false });
      if (isEphemera) expect(spec.serviceAccountName).toBe(`ephemera-${component}`);
      else expect(spec.serviceAccountName).toBeUndefined();
    }
  });

  it.each(TREES)('%s: Ephemera\'s one image at the tree\'s release, each container running its own part of it', (tree) => {
    const images = new Set<string>();
    for (const { owner, spec } of podTemplates(rendered[tree])) {
      for (const c of containersOf(spec)) {
        expect(`${owner} ${c.image}`).toMatch(/:[\w.-]+$/);
        expect(c.image).not.toMatch(/:latest$/);
        expect(c.imagePullPolicy).toBe('IfNotPresent');
        if (isEphemeraImage(c.image)) images.add(c.image);
      }
    }
    expect([...images]).toEqual([`${IMAGE}:${TAGS[tree]}`]);
    // Each service's entry point, as the `ephemera` stage lays them out (/app/<service>/dist/main.js).
    const stage = read('Dockerfile').split(/^FROM /m).find((st) => /AS ephemera\b/.test(st.split('\n')[0]!))!;
    expect(stage).toMatch(/^WORKDIR \/app$/m);
    for (const name of SERVICES) {
      expect(find(rendered[tree], 'Deployment', name).spec.template.spec.containers[0]).toMatchObject({ image: `${IMAGE}:${TAGS[tree]}`, command: ['node', `${name}/dist/main.js`] });
    }
  });
});

// ------------------------------------------------------------------------------------------------ configuration

const SECRET_NAMED = /SECRET|TOKEN|PASSWORD|PRIVATE_KEY|SIGNING_KEY|CREDENTIAL|API_KEY|DATABASE_URL|REDIS_URL/;
const SECRET_LOOKING = [
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
  // user:password@ in a URL, the user possibly empty (redis://:password@host).
  /:\/\/[^/\s:@]*:[^/\s@]+@/,
  /\b(ghp|gho|ghs|ghu|ghr|github_pat)_[A-Za-z0-9_]{10,}/,
  /^[A-Za-z0-9+/_=-]{32,}$/,
];

function strings(node: unknown, at: string, out: Array<[string, string]>): void {
  if (typeof node === 'string') out.push([at, node]);
  else if (Array.isArray(node)) node.forEach((v, i) => strings(v, `${at}[${i}]`, out));
  else if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) strings(v, `${at}.${k}`, out);
}

describe('configuration and secrets', () => {
  it.each(TREES)('%s: ephemera-config holds only settings the services read, with PROVISIONER=kubernetes', (tree) => {
    const data = find(rendered[tree], 'ConfigMap', 'ephemera-config').data as Record<string, string>;
    expect(data.PROVISIONER).toBe('kubernetes');
    expect(data.NODE_ENV).toBe('production');
    const read = new Set([...Object.keys(ingestConfigSchema.shape), ...Object.keys(workerConfigSchema.shape), ...Object.keys(queryConfigSchema.shape)]);
    for (const key of Object.keys(data)) {
      expect(`${key} read by a service: ${read.has(key)}`).toBe(`${key} read by a service: true`);
      expect(`${key} secret-named: ${SECRET_NAMED.test(key)}`).toBe(`${key} secret-named: false`);
      expect(typeof data[key]).toBe('string');
    }
  });

  it.each(TREES)('%s: each service starts in production on what the manifests give it, once GITHUB_APP_ID and ALLOWED_ACCOUNTS are set', (tree) => {
    const objects = rendered[tree];
    const envOf = (name: ServiceName) => environmentOf(objects, find(objects, 'Deployment', name).spec.template.spec.containers[0]);
    const schemas = { ingest: ingestConfigSchema, worker: workerConfigSchema, query: queryConfigSchema };
    for (const name of SERVICES) {
      // Every variable set one by one is the service's own (or Node's).
      const container = find(objects, 'Deployment', name).spec.template.spec.containers[0];
      // …or the source of a later variable's `$(NAME)` (REDIS_PASSWORD for REDIS_URL in the try overlay).
      const sources = container.env.flatMap((e: any) => [...String(e.value ?? '').matchAll(/\$\(([A-Z_]+)\)/g)].map((m) => m[1]));
      for (const e of container.env) expect([...Object.keys(schemas[name].shape), 'NODE_OPTIONS', ...sources]).toContain(e.name);
    }
    // Which accounts are served is the operator's to say: the placeholder stops ingest and the worker, naming it, so
    // an install is never open to whoever installs the App without someone having chosen so (`*`).
    expect(find(objects, 'ConfigMap', 'ephemera-config').data.ALLOWED_ACCOUNTS).toBe('');
    expect(() => loadIngestConfig(envOf('ingest'))).toThrow(/ALLOWED_ACCOUNTS is not set/);
    expect(() => loadWorkerConfig({ ...envOf('worker'), GITHUB_APP_ID: '123456' })).toThrow(/ALLOWED_ACCOUNTS is not set/);
    const ingest = loadIngestConfig({ ...envOf('ingest'), ALLOWED_ACCOUNTS: 'acme' });
    expect(ingest).toMatchObject({ NODE_ENV: 'production', INGEST_PORT: 3001, QUEUE_SIGNING_KEY: OPERATOR_SECRETS.QUEUE_SIGNING_KEY });
    expect(loadIngestConfig({ ...envOf('ingest'), ALLOWED_ACCOUNTS: '*' }).ALLOWED_ACCOUNTS!.any).toBe(true);
    // The one key every service signs (and the worker verifies) jobs with.
    expect(loadQueryConfig(envOf('query')).QUEUE_SIGNING_KEY).toBe(OPERATOR_SECRETS.QUEUE_SIGNING_KEY);
    expect(loadQueryConfig(envOf('query'))).toMatchObject({ NODE_ENV: 'production', QUERY_PORT: 3002, API_TOKENS: ['tok-3f9a1c7e5b2d'], API_WRITE_TOKENS: [], ADMIN_USERNAME: 'admin', ADMIN_WRITE: false });
    // Write tokens, once the operator adds them to the Secret.
    const writeToken = 'w'.repeat(40);
    const query = find(objects, 'Deployment', 'query').spec.template.spec.containers[0];
    expect(loadQueryConfig(environmentOf(objects, query, { ...OPERATOR_SECRETS, API_WRITE_TOKENS: writeToken })).API_WRITE_TOKENS).toEqual([writeToken]);
    // A required key missing from the Secret stops the container, as the kubelet does.
    const { SESSION_SECRET: _dropped, ...withoutSession } = OPERATOR_SECRETS;
    expect(() => environmentOf(objects, query, withoutSession)).toThrow(/SESSION_SECRET/);
    // The App's id is the operator's to set: the placeholder stops the worker with the variable's name.
    expect(() => loadWorkerConfig({ ...envOf('worker'), ALLOWED_ACCOUNTS: 'acme' })).toThrow(/GITHUB_APP_ID/);
    const worker = loadWorkerConfig({ ...envOf('worker'), GITHUB_APP_ID: '123456', ALLOWED_ACCOUNTS: 'acme' });
    expect(worker).toMatchObject({ PROVISIONER: 'kubernetes', WORKER_PORT: 3003, SHUTDOWN_TIMEOUT_MS: 25_000, QUEUE_SIGNING_KEY: OPERATOR_SECRETS.QUEUE_SIGNING_KEY });
    expect(worker.QUEUE_SIGNING_KEY_PREVIOUS).toBeUndefined();
    // While rotating, the previous key reaches the worker from the Secret's optional key.
    const workerContainer = find(objects, 'Deployment', 'worker').spec.template.spec.containers[0];
    const previous = 'e'.repeat(64);
    expect(loadWorkerConfig({ ...environmentOf(objects, workerContainer, { ...OPERATOR_SECRETS, QUEUE_SIGNING_KEY_PREVIOUS: previous }), GITHUB_APP_ID: '123456', ALLOWED_ACCOUNTS: 'acme' }).QUEUE_SIGNING_KEY_PREVIOUS).toBe(previous);
    // The in-cluster service account, not a kubeconfig.
    expect(worker.KUBECONFIG).toBeUndefined();
    expect(worker.PREVIEW_URL_SCHEME).toBe(tree === 'try' ? 'http' : 'https');
  });

  it.each(TREES)('%s: no literal secret: secrets only by reference to ephemera-secrets, and nothing anywhere looks like one', (tree) => {
    const objects = rendered[tree];
    const keys = new Set<string>();
    for (const { owner, spec } of podTemplates(objects)) {
      for (const c of containersOf(spec)) {
        for (const from of c.envFrom ?? []) expect(from).toEqual({ configMapRef: { name: 'ephemera-config' } });
        const fromSecrets = new Set<string>();
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          // A secret-named variable comes from a Secret, or is built (dependent variables) from variables defined
          // before it from a Secret, around text that holds no secret.
          const built = typeof e.value === 'string' && /\$\([A-Z_]+\)/.test(e.value) && [...e.value.matchAll(/\$\(([A-Z_]+)\)/g)].every((m) => fromSecrets.has(m[1]!));
          if (SECRET_NAMED.test(e.name)) expect(`${owner} ${e.name} from a Secret: ${Boolean(ref) || built}`).toBe(`${owner} ${e.name} from a Secret: true`);
          if (ref) fromSecrets.add(e.name);
          if (!ref) continue;
          expect(`${e.name} optional: ${ref.optional === true}`).toBe(`${e.name} optional: ${OPTIONAL_SECRET_KEYS.includes(ref.key)}`);
          if (owner === 'StatefulSet/postgres') {
            expect(ref).toEqual({ name: 'ephemera-postgres', key: 'POSTGRES_PASSWORD' });
          } else {
            expect({ name: ref.name, key: ref.key }).toEqual({ name: 'ephemera-secrets', key: e.name });
            keys.add(ref.key);
          }
        }
      }
    }
    expect([...keys].sort()).toEqual(SECRET_KEYS[tree]);
    const found: Array<[string, string]> = [];
    for (const o of objects) strings(o, `${o.kind}/${o.metadata.name}`, found);
    // A `$(NAME)` reference is the kubelet's to fill in, not a secret written here.
    // Kind names are not secrets (ValidatingAdmissionPolicyBinding is 32 letters).
    const suspicious = found.filter(([at, value]) => !/\.kind$/.test(at) && SECRET_LOOKING.some((p) => p.test(value.replace(/\$\([A-Za-z_][A-Za-z0-9_]*\)/g, ''))));
    expect(suspicious).toEqual([]);
    // The patterns do catch what the operator's Secret holds, and a Redis URL with a password written out.
    for (const key of ['DATABASE_URL', 'REDIS_URL', 'REDIS_PASSWORD', 'GITHUB_APP_PRIVATE_KEY', 'GITHUB_WEBHOOK_SECRET', 'QUEUE_SIGNING_KEY']) expect(SECRET_LOOKING.some((p) => p.test(OPERATOR_SECRETS[key]!))).toBe(true);
    expect(SECRET_LOOKING.some((p) => p.test('redis://:hunter2@redis:6379'))).toBe(true);
  });
});


// ------------------------------------------------------------------------------------------------ Redis's password

describe('Redis requires a password', () => {
  const objects = rendered.try;
  const redis = () => find(objects, 'StatefulSet', 'redis').spec.template.spec.containers[0];
  const PASSWORD = OPERATOR_SECRETS.REDIS_PASSWORD!;
  const { REDIS_PASSWORD: _absent, ...withoutRedisPassword } = OPERATOR_SECRETS;

  it('try: Redis reads its password from the required Secret key REDIS_PASSWORD, and the kubelet starts neither it nor a service without it', () => {
    const ref = redis().env.find((e: any) => e.name === 'REDIS_PASSWORD').valueFrom.secretKeyRef;
    expect(ref).toEqual({ name: 'ephemera-secrets', key: 'REDIS_PASSWORD' });
    expect(OPTIONAL_SECRET_KEYS).not.toContain('REDIS_PASSWORD');
    expect(() => environmentOf(objects, redis(), withoutRedisPassword)).toThrow(/no key REDIS_PASSWORD/);
    for (const name of SERVICES) {
      const container = find(objects, 'Deployment', name).spec.template.spec.containers[0];
      expect(() => environmentOf(objects, container, withoutRedisPassword)).toThrow(/no key REDIS_PASSWORD/);
    }
  });

  it('try: the password reaches redis-server on its standard input, never on a command line; an empty or unescapable one stops it', () => {
    const c = redis();
    const env = environmentOf(objects, c);
    // The kubelet expands $(NAME) in command and args too: nothing there refers to a variable.
    const command: string[] = [...c.command, ...c.args];
    expect(command.map((a) => expand(a, env))).toEqual(command);
    expect(JSON.stringify(command)).not.toContain('REDIS_PASSWORD)');
    expect(command.slice(0, 2)).toEqual(['sh', '-c']);
    const started = runRedisStart(command, env);
    expect(started).toMatchObject({ status: 0, stdin: `requirepass ${PASSWORD}\n` });
    // The image's entrypoint gets redis-server, its options, and last `-` (read configuration from standard input).
    expect(started.argv).toEqual(c.args);
    expect(started.argv.at(-1)).toBe('-');
    expect(started.argv.join(' ')).not.toContain(PASSWORD);
    expect(runRedisStart(command, { ...env, REDIS_PASSWORD: '' })).toMatchObject({ status: 1, stdin: '', stderr: expect.stringMatching(/REDIS_PASSWORD is empty/) });
    for (const bad of ['has space', 'p@ss', 'a/b', 'x%41', 'q"uote']) {
      expect(runRedisStart(command, { ...env, REDIS_PASSWORD: bad })).toMatchObject({ status: 1, stdin: '', stderr: expect.stringMatching(/only letters, digits/) });
    }
  });

  it('try: the probes authenticate (REDISCLI_AUTH from the same key) and pass only on PONG, not on NOAUTH', () => {
    const c = redis();
    const env = environmentOf(objects, c);
    expect(env.REDISCLI_AUTH).toBe(PASSWORD);
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      const command: string[] = c[probe].exec.command;
      expect(command.join(' ')).not.toMatch(/ -a |--pass|--user/);
      expect(probePasses(command, env, PASSWORD)).toBe(true);
      // redis-cli exits 0 on NOAUTH: a probe that looked at the exit code alone would pass unauthenticated.
      const { REDISCLI_AUTH: _none, ...unauthenticated } = env;
      expect(probePasses(command, unauthenticated, PASSWORD)).toBe(false);
      expect(probePasses(command, env, 'another-password')).toBe(false);
    }
  });

  it.each(TREES)('%s: every service\'s REDIS_URL carries the password (try: built from REDIS_PASSWORD, the one place it is kept)', (tree) => {
    const objects = rendered[tree];
    for (const name of SERVICES) {
      const container = find(objects, 'Deployment', name).spec.template.spec.containers[0];
      const env = environmentOf(objects, container);
      const url = new URL(env.REDIS_URL!);
      if (tree === 'try') {
        expect(env.REDIS_URL).toBe(`redis://:${PASSWORD}@redis:6379`);
        expect(decodeURIComponent(url.password)).toBe(PASSWORD);
        // REDIS_PASSWORD is defined before REDIS_URL (the kubelet expands only what comes earlier), and the
        // Secret's REDIS_URL key is not read: no second copy of the password.
        const names = container.env.map((e: any) => e.name);
        expect(names.indexOf('REDIS_PASSWORD')).toBeLessThan(names.indexOf('REDIS_URL'));
        expect(container.env.some((e: any) => e.valueFrom?.secretKeyRef?.key === 'REDIS_URL')).toBe(false);
      } else {
        // Your Redis, named by the Secret's REDIS_URL with its password in it.
        expect(container.env.find((e: any) => e.name === 'REDIS_URL').valueFrom.secretKeyRef).toEqual({ name: 'ephemera-secrets', key: 'REDIS_URL' });
        expect(url.password).not.toBe('');
      }
      const load = { ingest: loadIngestConfig, worker: loadWorkerConfig, query: loadQueryConfig }[name];
      expect((load({ ...env, GITHUB_APP_ID: '123456', ALLOWED_ACCOUNTS: 'acme' }) as { REDIS_URL: string }).REDIS_URL).toBe(env.REDIS_URL);
    }
  });
});

// ------------------------------------------------------------------------------------------------ migrations

describe('migrations', () => {
  it.each(TREES)('%s: the Job, and worker and query before they start, run the migrate image\'s own command; ingest has no database', (tree) => {
    const objects = rendered[tree];
    const migrateStage = read('Dockerfile').split(/^FROM /m).find((s) => /AS migrate\b/.test(s.split('\n')[0]!))!;
    const command = JSON.parse(/^CMD (\[.*\])$/m.exec(migrateStage)![1]!) as string[];
    expect(command).toEqual(['node', '--import', 'tsx', 'src/migrate/cli.ts', 'migrate']);
    const image = `${IMAGE}:${TAGS[tree]}`;
    // The all-in-one image keeps the migrate stage's files under /app/migrate.
    expect(read('Dockerfile')).toMatch(/^ENV PRISMA_DIR=\/app\/migrate\/prisma$/m);

    const job = find(objects, 'Job', 'ephemera-migrate');
    const jobContainer = job.spec.template.spec.containers[0];
    expect(jobContainer).toMatchObject({ image, command, workingDir: '/app/migrate' });
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    expect(job.spec.backoffLimit).toBeGreaterThan(0);
    expect(job.spec.activeDeadlineSeconds).toBeGreaterThan(0);
    expect(job.spec.ttlSecondsAfterFinished).toBeGreaterThan(0);
    expect(Object.keys(environmentOf(objects, jobContainer)).sort()).toEqual(['DATABASE_URL', 'NODE_OPTIONS']);

    for (const name of ['worker', 'query']) {
      const init = find(objects, 'Deployment', name).spec.template.spec.initContainers;
      expect(init).toHaveLength(1);
      expect(init[0]).toMatchObject({ name: 'migrate', image, command, workingDir: '/app/migrate' });
      expect(init[0].env).toEqual(jobContainer.env);
      expect(init[0].resources).toEqual(jobContainer.resources);
    }
    const ingest = find(objects, 'Deployment', 'ingest').spec.template.spec;
    expect(ingest.initContainers).toBeUndefined();
    expect(environmentOf(objects, ingest.containers[0]).DATABASE_URL).toBeUndefined();
  });
});

// ------------------------------------------------------------------------------------------------ traffic

interface Allowed {
  ingress: string[];
  egress: string[];
}

function selects(selector: any, labels: Record<string, string>): boolean {
  const byLabel = Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpression = (selector?.matchExpressions ?? []).every((e: any) =>
    e.operator === 'In' ? e.values.includes(labels[e.key]) : e.operator === 'Exists' ? e.key in labels : (() => { throw new Error(`operator ${e.operator}`); })(),
  );
  return byLabel && byExpression;
}

function describePeer(peer: any): string {
  if (peer.ipBlock) return `ipBlock ${peer.ipBlock.cidr}`;
  if (peer.namespaceSelector) return `namespace ${peer.namespaceSelector.matchLabels?.['kubernetes.io/metadata.name'] ?? JSON.stringify(peer.namespaceSelector)}`;
  const expr = (peer.podSelector.matchExpressions ?? []).map((e: any) => `${e.key.replace('app.kubernetes.io/', '')} in ${e.values.join('|')}`);
  return `pods ${expr.join(', ')}`;
}

/** What the namespace's NetworkPolicies allow a pod with these labels: "source -> port" in, "port (destination)" out. */
function allowedFor(objects: KubeObject[], labels: Record<string, string>): Allowed {
  const policies = ofKind(objects, 'NetworkPolicy').filter((p) => selects(p.spec.podSelector, labels));
  const ingress = policies.flatMap((p) => (p.spec.ingress ?? []).flatMap((r: any) => r.from.flatMap((peer: any) => r.ports.map((port: any) => `${describePeer(peer)} -> ${port.port}`))));
  const egress = policies.flatMap((p) =>
    (p.spec.egress ?? []).flatMap((r: any) => r.ports.map((port: any) => `${port.protocol}/${port.port}${r.to ? ` (${r.to.map(describePeer).join(', ')})` : ''}`)),
  );
  return { ingress: [...new Set(ingress)].sort(), egress: [...new Set(egress)].sort() };
}

/** An Ingress's paths as `pathType path -> service:port`. */
const pathsOf = (ingress: any): string[] => ingress.spec.rules[0].http.paths.map((p: any) => `${p.pathType} ${p.path} -> ${p.backend.service.name}:${p.backend.service.port.name}`);

/** One path the public entry routes: an Ingress's path, or an HTTPRoute's path match, and where it sends requests. */
interface Route {
  /** The Ingress or HTTPRoute it is part of. */
  owner: string;
  kind: 'Ingress' | 'HTTPRoute';
  /** As written: Exact, Prefix (Ingress) or PathPrefix (HTTPRoute). */
  type: string;
  /** Matches by whole path elements (Ingress Prefix, HTTPRoute PathPrefix), not the path alone (Exact). */
  prefix: boolean;
  path: string;
  hosts: string[];
  service: string;
  /** The Service's port number (an Ingress names the port, an HTTPRoute gives its number); NaN if there is none. */
  port: number;
}

/** The number of a Service's port, by name or number; undefined when the render has no such Service or port. */
function servicePort(objects: KubeObject[], service: string, port: { name?: string; number?: number } | number | undefined): number | undefined {
  if (port === undefined) return undefined;
  const ports: any[] = find(objects, 'Service', service)?.spec.ports ?? [];
  const wanted = typeof port === 'number' ? ports.find((p) => p.port === port) : ports.find((p) => (port.name !== undefined ? p.name === port.name : p.port === port.number));
  return wanted?.port;
}

/** Every path the render's Ingresses and HTTPRoutes route. */
function routes(objects: KubeObject[]): Route[] {
  const fromIngresses = ofKind(objects, 'Ingress').flatMap((ingress) =>
    ingress.spec.rules.flatMap((rule: any) =>
      rule.http.paths.map(
        (p: any): Route => ({
          owner: ingress.metadata.name,
          kind: 'Ingress',
          type: p.pathType,
          prefix: p.pathType === 'Prefix',
          path: p.path,
          hosts: [rule.host],
          service: p.backend.service.name,
          port: servicePort(objects, p.backend.service.name, p.backend.service.port) ?? NaN,
        }),
      ),
    ),
  );
  // A match without a path is a PathPrefix of "/", a path without a type a PathPrefix (the API's defaults).
  const fromHttpRoutes = ofKind(objects, 'HTTPRoute').flatMap((route) =>
    route.spec.rules.flatMap((rule: any) =>
      (rule.matches ?? [{}]).flatMap((m: any) =>
        (rule.backendRefs ?? []).map(
          (b: any): Route => ({
            owner: route.metadata.name,
            kind: 'HTTPRoute',
            type: m.path?.type ?? 'PathPrefix',
            prefix: (m.path?.type ?? 'PathPrefix') === 'PathPrefix',
            path: m.path?.value ?? '/',
            hosts: route.spec.hostnames ?? [],
            service: b.name,
            port: b.port ?? NaN,
          }),
        ),
      ),
    ),
  );
  return [...fromIngresses, ...fromHttpRoutes];
}

/**
 * Whether a request for `target` matches: Exact, the path itself; a prefix, by whole path elements, a trailing `/`
 * ignored (`/api` matches /api, /api/ and /api/v1, not /apix), as the Ingress API and the Gateway API both define it.
 */
function matchesPath(route: Route, target: string): boolean {
  if (!route.prefix) return route.path === target;
  const prefix = route.path.replace(/\/$/, '');
  return prefix === '' || target === prefix || target.startsWith(`${prefix}/`);
}

/**
 * Where the entry sends a request for `target`, as `service:port`. Ingresses: the longest matching path, Exact before
 * Prefix on a tie (the Ingress API). HTTPRoutes: an Exact match before any prefix, then the longest prefix, across
 * all the routes of the listener (the Gateway API's precedence).
 */
function destination(objects: KubeObject[], target: string): string | undefined {
  const candidates = routes(objects).filter((r) => matchesPath(r, target));
  const order = (a: Route, b: Route) =>
    a.kind === 'Ingress' ? b.path.length - a.path.length || Number(a.prefix) - Number(b.prefix) : Number(a.prefix) - Number(b.prefix) || b.path.length - a.path.length;
  const best = candidates.sort(order)[0];
  return best && `${best.service}:${best.port}`;
}

const INGRESS_EXPECTED: Record<string, { host: string; className: string; tls: unknown }> = {
  base: { host: 'ephemera.example.com', className: 'nginx', tls: undefined },
  production: { host: 'ephemera.example.com', className: 'nginx', tls: [{ hosts: ['ephemera.example.com'], secretName: 'ephemera-tls' }] },
  try: { host: 'ephemera.127.0.0.1.nip.io', className: 'nginx', tls: undefined },
};

describe('traffic', () => {
  it.each(INGRESS_TREES)('%s: the Ingress sends GitHub\'s webhook to ingest and /api, /docs and the dashboard to query, with room for GitHub\'s largest delivery', (tree) => {
    const ingress = find(rendered[tree], 'Ingress', 'ephemera');
    expect(ingress.spec.rules).toHaveLength(1);
    expect(pathsOf(ingress)).toEqual([
      'Exact /api/v1/webhooks/github -> ingest:http',
      'Prefix /api -> query:http',
      'Prefix /docs -> query:http',
      'Exact / -> query:http',
      'Exact /sign-in -> query:http',
      'Prefix /auth/github -> query:http',
      'Exact /auth/sign-out -> query:http',
      'Prefix /environments -> query:http',
      'Exact /events -> query:http',
      'Prefix /static -> query:http',
    ]);
    // ingest accepts GitHub's 25 MB (MAX_BODY_BYTES); ingress-nginx's default would refuse anything over 1 MiB.
    const maxBody = /MAX_BODY_BYTES = ([\d\s*]+);/.exec(read('services/ingest/src/replies.ts'))![1]!.split('*').reduce((a, b) => a * Number(b), 1);
    expect(quantity(ingress.metadata.annotations['nginx.ingress.kubernetes.io/proxy-body-size'].replace(/m$/, 'Mi'))).toBeGreaterThanOrEqual(maxBody);
    const expected = INGRESS_EXPECTED[tree];
    expect(expected).toBeDefined();
    expect({ host: ingress.spec.rules[0].host, className: ingress.spec.ingressClassName, tls: ingress.spec.tls }).toEqual(expected);
    // The operator form's Ingress, while it is there, is served under the same host, class and certificate.
    const operatorForm = find(rendered[tree], 'Ingress', 'ephemera-operator-sign-in');
    expect({ host: operatorForm.spec.rules[0].host, className: operatorForm.spec.ingressClassName, tls: operatorForm.spec.tls }).toEqual(expected);
  });

  describe('through the Gateway API (overlays/gateway, components/gateway)', () => {
    const objects = rendered.gateway;
    /** `owner: type path -> service:port`, an Ingress's Prefix and an HTTPRoute's PathPrefix written alike. */
    const described = (rs: Route[]) => rs.map((r) => `${r.owner}: ${r.prefix ? 'Prefix' : r.type} ${r.path} -> ${r.service}:${r.port}`).sort();

    it('gateway: no Ingress; HTTPRoutes of the same names route exactly the paths the base\'s Ingresses route, to the same Services and ports', () => {
      expect(ofKind(objects, 'Ingress')).toEqual([]);
      const byIngresses = routes(rendered.base);
      expect(byIngresses.length).toBeGreaterThan(0);
      for (const r of byIngresses) expect(`${r.kind} ${r.service}:${r.port}`).toMatch(/^Ingress \w+:\d+$/);
      const byRoutes = routes(objects);
      expect(byRoutes.map((r) => r.kind)).toEqual(byRoutes.map(() => 'HTTPRoute'));
      expect(byRoutes.map((r) => r.type)).toEqual(byRoutes.map((r) => (r.prefix ? 'PathPrefix' : 'Exact')));
      expect(described(byRoutes)).toEqual(described(byIngresses));
      // Each match is a path alone (a header, method or query match would narrow it), each rule sends it whole to
      // one backend, and nothing rewrites or redirects it.
      for (const route of ofKind(objects, 'HTTPRoute')) {
        for (const rule of route.spec.rules) {
          expect({ route: route.metadata.name, backends: rule.backendRefs.length, filters: rule.filters }).toEqual({ route: route.metadata.name, backends: 1, filters: undefined });
          for (const m of rule.matches) expect(Object.keys(m)).toEqual(['path']);
          for (const b of rule.backendRefs) expect(Object.keys(b).sort()).toEqual(['name', 'port']);
        }
      }
    });

    it('gateway: every request goes where the Ingresses send it (an Exact match first, then the longest prefix, by whole path elements)', () => {
      const paths = routes(rendered.base).map((r) => r.path);
      const requests = [
        ...new Set([
          ...paths.flatMap((p) => [p, `${p}/`, `${p}/x`, `${p}x`, `${p}/x/y`, p.slice(0, -1) || '/']),
          '/auth',
          '/auth/sign-in/x',
          '/admin/queues',
          '/metrics',
          '/api/v1/environments',
          '/healthz',
        ]),
      ];
      const where = (objs: KubeObject[]) => requests.map((t) => `${t} -> ${destination(objs, t) ?? 'nothing'}`);
      expect(where(objects)).toEqual(where(rendered.base));
      // What the comparison rests on: the webhook is ingest's, its neighbours query's, and what is not listed is not routed.
      expect(destination(objects, '/api/v1/webhooks/github')).toBe('ingest:3001');
      expect(destination(objects, '/api/v1/webhooks/github/x')).toBe('query:3002');
      expect(destination(objects, '/api/v1')).toBe('query:3002');
      expect(destination(objects, '/auth/sign-in')).toBe('query:3002');
      for (const unrouted of ['/apix', '/auth', '/admin/queues', '/metrics', '/events/x', '/sign-in/x']) expect({ unrouted, to: destination(objects, unrouted) }).toEqual({ unrouted, to: undefined });
    });

    it('gateway: each backendRef names a Service of the install (core group, this namespace) and one of its ports', () => {
      const refs = ofKind(objects, 'HTTPRoute').flatMap((route) => route.spec.rules.flatMap((rule: any) => rule.backendRefs.map((b: any) => ({ route, b }))));
      expect(refs.length).toBeGreaterThan(0);
      for (const { route, b } of refs) {
        const at = `${route.metadata.name} -> ${b.name}:${b.port}`;
        expect({ at, group: b.group ?? '', kind: b.kind ?? 'Service', namespace: b.namespace ?? route.metadata.namespace }).toEqual({ at, group: '', kind: 'Service', namespace: NAMESPACE });
        expect({ at, port: servicePort(objects, b.name, b.port) }).toEqual({ at, port: b.port });
      }
      // The check sees a port the Service does not have, a Service that is not there, and a missing port.
      expect(servicePort(objects, 'query', 3001)).toBeUndefined();
      expect(servicePort(objects, 'worker', 3003)).toBeUndefined();
      expect(servicePort(objects, 'query', undefined)).toBeUndefined();
    });

    it('gateway: parentRefs name the operator\'s Gateway and its HTTPS listener; hostnames are the host the Ingresses serve', () => {
      const hosts = [...new Set(routes(rendered.production).flatMap((r) => r.hosts))];
      expect(hosts).toEqual(['ephemera.example.com']);
      const httpRoutes = ofKind(objects, 'HTTPRoute');
      expect(httpRoutes).toHaveLength(2);
      for (const route of httpRoutes) {
        expect({ name: route.metadata.name, parentRefs: route.spec.parentRefs }).toEqual({ name: route.metadata.name, parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', ...GATEWAY }] });
        expect({ name: route.metadata.name, hostnames: route.spec.hostnames }).toEqual({ name: route.metadata.name, hostnames: hosts });
      }
    });

    it('gateway: the NetworkPolicies let the Gateway\'s data plane reach ingest and query, and no longer the ingress controller', () => {
      const admitted = (objs: KubeObject[]) =>
        ofKind(objs, 'NetworkPolicy').flatMap((p) => (p.spec.ingress ?? []).flatMap((r: any) => r.from.map((peer: any) => peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name']))).filter(Boolean);
      expect(admitted(objects)).not.toContain('ingress-nginx');
      expect(admitted(rendered.production)).toContain('ingress-nginx');
      for (const name of ['ingest', 'query'] as const) {
        const labels = find(objects, 'Deployment', name).spec.template.metadata.labels;
        expect(allowedFor(objects, labels).ingress).toContain(`namespace ${GATEWAY_DATA_PLANE_NAMESPACE} -> ${PORTS[name].port}`);
        expect(allowedFor(objects, labels).ingress).not.toContain(`namespace ingress-nginx -> ${PORTS[name].port}`);
      }
    });

    it('gateway: everything else is overlays/production\'s, object for object', () => {
      // The way in left out, and the NetworkPolicies' Gateway namespace read as the ingress controller's.
      // Previews are routed through the Gateway too: those settings are the ConfigMap's only difference.
      const ROUTING_KEYS = ['PREVIEW_ROUTING', 'PREVIEW_GATEWAY', 'PREVIEW_GATEWAY_SECTION', 'PREVIEW_GATEWAY_NAMESPACE', 'INGRESS_NAMESPACE', 'INGRESS_CLASS'];
      const withoutRouting = (o: KubeObject) => ({ ...o, data: Object.fromEntries(Object.entries((o as any).data).filter(([k]) => !ROUTING_KEYS.includes(k))) });
      const rest = (objs: KubeObject[]) =>
        objs
          .filter((o) => !['Ingress', 'HTTPRoute'].includes(o.kind))
          .map((o) => (o.kind === 'ConfigMap' && o.metadata.name === 'ephemera-config' ? withoutRouting(o) : o))
          .map((o) => (o.kind === 'NetworkPolicy' ? JSON.parse(JSON.stringify(o).replaceAll(`{"kubernetes.io/metadata.name":"${GATEWAY_DATA_PLANE_NAMESPACE}"}`, '{"kubernetes.io/metadata.name":"ingress-nginx"}')) : o));
      expect(rest(objects)).toEqual(rest(rendered.production));
      expect(rest(objects).length).toBe(objects.length - 2);
    });

    it('gateway: previews are routed through the Gateway too (PREVIEW_ROUTING=gateway), and the worker starts on those settings', () => {
      const envOf = (tree: Tree) => environmentOf(rendered[tree], find(rendered[tree], 'Deployment', 'worker').spec.template.spec.containers[0]);
      const settings = (tree: Tree) => {
        const env = { ...envOf(tree), GITHUB_APP_ID: '123456', ALLOWED_ACCOUNTS: 'acme' };
        return previewGateway(loadWorkerConfig(env), env);
      };
      expect(settings('gateway')).toEqual({ namespace: 'gateway-system', name: 'public', sectionName: 'previews', dataPlaneNamespace: 'gateway-system' });
      expect(settings('production')).toBeUndefined();
    });

    it('components/gateway in an overlay of one\'s own, with no namespace of its own: the routes in ephemera, no Ingress', () => {
      const dir = tmp();
      writeTree(dir, { 'kustomization.yaml': `resources: [${JSON.stringify(path.join(KUBE, 'base'))}]\ncomponents: [${JSON.stringify(path.join(KUBE, 'components/gateway'))}]\n` });
      const own = kustomizeBuild(dir);
      expect(ofKind(own, 'Ingress')).toEqual([]);
      expect(ofKind(own, 'HTTPRoute').map((r) => `${r.metadata.namespace}/${r.metadata.name}`)).toEqual(['ephemera/ephemera', 'ephemera/ephemera-operator-sign-in']);
      expect(described(routes(own))).toEqual(described(routes(rendered.base)));
      for (const route of ofKind(own, 'HTTPRoute')) expect(route.spec.parentRefs).toEqual(find(objects, 'HTTPRoute', route.metadata.name).spec.parentRefs);
      for (const o of own) expect(`${o.kind}/${o.metadata.name} ${o.metadata.labels?.['app.kubernetes.io/part-of']}`).toBe(`${o.kind}/${o.metadata.name} ephemera`);
    });

    it('README.md\'s example Gateway is valid; its listeners admit these routes (namespace ephemera) and the previews\' (by the label Ephemera puts on their namespaces), no others', () => {
      const readme = read('README.md');
      const blocks = [...readme.matchAll(/```yaml\n([^]*?)```/g)].map((m) => m[1]!).filter((b) => /^kind: Gateway$/m.test(b));
      expect(blocks).toHaveLength(1);
      const gateway = parseYaml(blocks[0]!);
      expect(() => new Gateway(gateway).validate()).not.toThrow();
      expect({ namespace: gateway.metadata.namespace, name: gateway.metadata.name }).toEqual({ namespace: GATEWAY.namespace, name: GATEWAY.name });
      /** Whether a listener lets in HTTPRoutes of a namespace labelled so (allowedRoutes; `Same` by default). */
      const admits = (listener: any, namespaceLabels: Record<string, string>) => {
        const kinds = listener.allowedRoutes?.kinds ?? [{ kind: 'HTTPRoute' }];
        const namespaces = listener.allowedRoutes?.namespaces ?? { from: 'Same' };
        const from = namespaces.from ?? 'Same';
        const byNamespace =
          from === 'All' || (from === 'Same' && namespaceLabels['kubernetes.io/metadata.name'] === gateway.metadata.namespace) || (from === 'Selector' && selects(namespaces.selector, namespaceLabels));
        return kinds.some((k: any) => k.kind === 'HTTPRoute') && byNamespace;
      };
      /** A listener's hostname covers a host: none, the host itself, or `*.` a suffix of it. */
      const covers = (listener: any, host: string) => listener.hostname === undefined || listener.hostname === host || (listener.hostname.startsWith('*.') && host.endsWith(listener.hostname.slice(1)));
      const ephemera = { 'kubernetes.io/metadata.name': NAMESPACE };
      const preview = { 'kubernetes.io/metadata.name': 'pr-7-acme-app-0123456789', [LABELS.managedBy]: MANAGED_BY, [LABELS.instance]: 'default' };
      const stranger = { 'kubernetes.io/metadata.name': 'someone-else' };

      const own = gateway.spec.listeners.find((l: any) => l.name === GATEWAY.sectionName);
      expect(own).toMatchObject({ protocol: 'HTTPS', port: 443 });
      expect(own.tls.mode ?? 'Terminate').toBe('Terminate');
      expect(own.tls.certificateRefs.length).toBeGreaterThan(0);
      for (const route of ofKind(objects, 'HTTPRoute')) for (const host of route.spec.hostnames) expect(covers(own, host)).toBe(true);
      expect({ ephemera: admits(own, ephemera), preview: admits(own, preview), stranger: admits(own, stranger) }).toEqual({ ephemera: true, preview: false, stranger: false });

      // Previews: a wildcard HTTPS listener for *.PREVIEW_BASE_DOMAIN, admitting the namespaces Ephemera labels as its own.
      const domain = find(objects, 'ConfigMap', 'ephemera-config').data.PREVIEW_BASE_DOMAIN;
      const previews = gateway.spec.listeners.find((l: any) => l.hostname === `*.${domain}`);
      expect(previews).toMatchObject({ protocol: 'HTTPS', port: 443 });
      expect(previews.tls.mode ?? 'Terminate').toBe('Terminate');
      expect(previews.tls.certificateRefs.length).toBeGreaterThan(0);
      expect(covers(previews, `pr-7-acme-app-0123456789.${domain}`)).toBe(true);
      expect({ ephemera: admits(previews, ephemera), preview: admits(previews, preview), stranger: admits(previews, stranger) }).toEqual({ ephemera: false, preview: true, stranger: false });
      // The checks see a listener open to every namespace, and one for another domain.
      expect(admits({ allowedRoutes: { namespaces: { from: 'All' } } }, stranger)).toBe(true);
      expect(covers({ hostname: '*.elsewhere.test' }, `x.${domain}`)).toBe(false);
      // README's preview settings name this Gateway and that listener.
      expect(readme).toContain(`PREVIEW_GATEWAY=${GATEWAY.namespace}/${GATEWAY.name}`);
      expect(readme).toContain(`PREVIEW_GATEWAY_SECTION=${previews.name}`);
    });
  });

  describe('the operator sign-in form (ADMIN_SIGN_IN)', () => {
    /** Every rendered path (Ingress or HTTPRoute) that a request for `target` can match, whatever its precedence. */
    const routesTo = (objects: KubeObject[], target: string) =>
      routes(objects)
        .filter((r) => matchesPath(r, target))
        .map((r) => `${r.owner}: ${r.type} ${r.path} -> ${r.service}`);
    /** The overlay patches README.md gives for turning the form off: the yaml block deleting its Ingress or HTTPRoute. */
    const readmePatches = (kind: 'Ingress' | 'HTTPRoute') => {
      const block = [...read('README.md').matchAll(/```yaml\n([^]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('name: ephemera-operator-sign-in') && new RegExp(`^\\s*kind: ${kind}$`, 'm').test(b));
      if (!block) throw new Error(`README.md has no yaml block that deletes the ${kind} ephemera-operator-sign-in`);
      // The block is indented as part of a list item.
      const lines = block.split('\n');
      const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => /^ */.exec(l)![0].length));
      return lines.map((l) => l.slice(indent)).join('\n');
    };
    const entryKind = (tree: Tree) => (ROUTING[tree] === 'ingress' ? 'Ingress' : 'HTTPRoute');

    it.each(TREES)('%s: is on, and routed by an Ingress (gateway: an HTTPRoute) of its own, which no other path overlaps', (tree) => {
      const objects = rendered[tree];
      expect(find(objects, 'ConfigMap', 'ephemera-config').data.ADMIN_SIGN_IN).toBe('on');
      expect(routesTo(objects, '/auth/sign-in')).toEqual(['ephemera-operator-sign-in: Exact /auth/sign-in -> query']);
      expect(find(objects, entryKind(tree), 'ephemera-operator-sign-in')).toBeDefined();
      expect(routes(objects).filter((r) => r.owner === 'ephemera-operator-sign-in').map((r) => `${r.kind} ${r.type} ${r.path} -> ${r.service}:${r.port}`)).toEqual([
        `${entryKind(tree)} Exact /auth/sign-in -> query:3002`,
      ]);
      // GitHub sign-in and sign-out stay routed by the main Ingress or HTTPRoute.
      for (const p of ['/auth/github', '/auth/github/callback', '/auth/sign-out']) expect(routesTo(objects, p)).toEqual([expect.stringMatching(/^ephemera: /)]);
    });

    it.each([
      ['production', 'Ingress'],
      ['gateway', 'HTTPRoute'],
    ] as const)('%s: is off, and unrouted, in an overlay with README.md\'s patches (deleting the %s); everything else is routed as before', (tree, kind) => {
      const dir = tmp();
      writeTree(dir, {
        'kustomization.yaml': `resources: [${JSON.stringify(path.join(KUBE, `overlays/${tree}`))}]\n${readmePatches(kind)}`,
      });
      const objects = kustomizeBuild(dir);
      expect(find(objects, 'ConfigMap', 'ephemera-config').data.ADMIN_SIGN_IN).toBe('off');
      expect(routesTo(objects, '/auth/sign-in')).toEqual([]);
      expect(find(objects, kind, 'ephemera-operator-sign-in')).toBeUndefined();
      const main = (objs: KubeObject[]) => routes(objs).filter((r) => r.owner === 'ephemera');
      expect(main(objects).length).toBeGreaterThan(0);
      expect(main(objects)).toEqual(main(rendered[tree]));
      const query = find(objects, 'Deployment', 'query').spec.template.spec.containers[0];
      expect(loadQueryConfig(environmentOf(objects, query)).ADMIN_SIGN_IN).toBe('off');
    });
  });
  it.each(TREES)('%s: NetworkPolicies deny by default; in only from the ingress controller or the Gateway\'s data plane (and monitoring), out only to what each needs', (tree) => {
    const objects = rendered[tree];
    const deny = find(objects, 'NetworkPolicy', 'ephemera-default-deny');
    expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    for (const p of ofKind(objects, 'NetworkPolicy')) {
      // A rule with no `from`/`to`/`ports` opens everything: none is written that way.
      for (const r of p.spec.ingress ?? []) expect(r.from?.length && r.ports?.length).toBeTruthy();
      for (const r of p.spec.egress ?? []) expect(r.ports?.length).toBeTruthy();
    }
    // Who reaches ingest and query: the ingress controller's namespace, or (gateway) the Gateway's data plane's.
    const controllers = { base: ['ingress-nginx'], production: ['ingress-nginx'], gateway: [GATEWAY_DATA_PLANE_NAMESPACE], try: ['ingress-nginx', 'kube-system'] }[tree];
    const dns = ['TCP/53 (namespace kube-system)', 'UDP/53 (namespace kube-system)'];
    const labels = (component: string) => ({ 'app.kubernetes.io/name': 'ephemera', 'app.kubernetes.io/component': component, 'app.kubernetes.io/part-of': 'ephemera' });
    const from = (port: number, namespaces: string[]) => [...namespaces, 'monitoring'].map((n) => `namespace ${n} -> ${port}`).sort();
    expect(allowedFor(objects, labels('ingest'))).toEqual({ ingress: from(3001, controllers), egress: [...dns, 'TCP/6379'].sort() });
    // query: also HTTPS, for GitHub sign-in (GITHUB_URL's token exchange, GITHUB_API_URL's user look-ups).
    expect(allowedFor(objects, labels('query'))).toEqual({ ingress: from(3002, controllers), egress: [...dns, 'TCP/443', 'TCP/5432', 'TCP/6379'].sort() });
    expect(allowedFor(objects, labels('worker'))).toEqual({ ingress: from(3003, []), egress: [...dns, 'TCP/443', 'TCP/5432', 'TCP/6379', 'TCP/6443'].sort() });
    expect(allowedFor(objects, labels('migrate'))).toEqual({ ingress: [], egress: [...dns, 'TCP/5432'].sort() });
    // Every pod template is one of these, or (try) a database that lets in only the workloads that use it.
    for (const { owner, labels: podLabels } of podTemplates(objects)) {
      expect(selects(deny.spec.podSelector, podLabels)).toBe(true);
      if (owner === 'StatefulSet/postgres') expect(allowedFor(objects, podLabels)).toEqual({ ingress: ['pods name in ephemera, component in worker|query|migrate -> 5432'], egress: dns });
      if (owner === 'StatefulSet/redis') expect(allowedFor(objects, podLabels)).toEqual({ ingress: ['pods name in ephemera, component in ingest|worker|query -> 6379'], egress: dns });
    }
  });

  /** The try overlay's data stores (production's are yours, outside the namespace): their pods' labels and port. */
  const STORES = {
    postgres: { labels: find(rendered.try, 'StatefulSet', 'postgres').spec.template.metadata.labels as Record<string, string>, port: 5432, variable: 'DATABASE_URL' },
    redis: { labels: find(rendered.try, 'StatefulSet', 'redis').spec.template.metadata.labels as Record<string, string>, port: 6379, variable: 'REDIS_URL' },
  };
  const EPHEMERA_COMPONENTS = ['ingest', 'worker', 'query', 'migrate'];

  /** Ingress rules of policies selecting pods with `labels` that admit anything outside the namespace. */
  function openToOtherNamespaces(objects: KubeObject[], labels: Record<string, string>): string[] {
    return ofKind(objects, 'NetworkPolicy')
      .filter((p) => selects(p.spec.podSelector, labels))
      .flatMap((p) => (p.spec.ingress ?? []).flatMap((r: any) => (r.from ?? [{ everywhere: true }]).filter((peer: any) => !peer.podSelector || peer.namespaceSelector || peer.ipBlock).map((peer: any) => `${p.metadata.name}: ${JSON.stringify(peer)}`)));
  }

  it.each(TREES)('%s: no NetworkPolicy opens PostgreSQL or Redis to another namespace (or an address block)', (tree) => {
    for (const store of Object.values(STORES)) expect(openToOtherNamespaces(rendered[tree], store.labels)).toEqual([]);
    // The check sees such a rule, also in a policy that selects every pod.
    const probe = (from: unknown[]) => [...rendered[tree], { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'probe' }, spec: { podSelector: {}, ingress: [{ from, ports: [{ port: 6379 }] }] } } as KubeObject];
    expect(openToOtherNamespaces(probe([{ namespaceSelector: {} }]), STORES.redis.labels)).toHaveLength(1);
    expect(openToOtherNamespaces(probe([{ podSelector: {}, namespaceSelector: { matchLabels: { team: 'x' } } }]), STORES.redis.labels)).toHaveLength(1);
    expect(openToOtherNamespaces(probe([{ ipBlock: { cidr: '0.0.0.0/0' } }]), STORES.postgres.labels)).toHaveLength(1);
  });

  it.each(TREES)('%s: PostgreSQL and Redis let in only the Ephemera pods that use them, by their labels, on their own port', (tree) => {
    const objects = rendered[tree];
    const templates = podTemplates(objects);
    // Who uses a store: the Ephemera pods given its URL (init containers included).
    const users = (variable: string) =>
      [...new Set(templates.filter((t) => EPHEMERA_COMPONENTS.includes(t.component) && containersOf(t.spec).some((c) => (c.env ?? []).some((e: any) => e.name === variable))).map((t) => t.component))].sort();
    expect(users('DATABASE_URL')).toEqual(['migrate', 'query', 'worker']);
    expect(users('REDIS_URL')).toEqual(['ingest', 'query', 'worker']);
    const present = Object.entries(STORES).filter(([name]) => find(objects, 'StatefulSet', name));
    expect(present.map(([name]) => name)).toEqual(tree === 'try' ? ['postgres', 'redis'] : []);
    for (const [name, store] of present) {
      const rules = ofKind(objects, 'NetworkPolicy').filter((p) => selects(p.spec.podSelector, store.labels)).flatMap((p) => p.spec.ingress ?? []);
      expect(rules.length).toBeGreaterThan(0);
      for (const rule of rules) expect({ name, ports: rule.ports }).toEqual({ name, ports: [{ protocol: 'TCP', port: store.port }] });
      // Whom the rules admit among every pod of the install, and strangers: a pod with a component label alone,
      // another application's pod with Ephemera's component names, an unlabelled pod.
      const candidates: Array<Record<string, string>> = [
        ...templates.map((t) => t.labels),
        { 'app.kubernetes.io/component': 'worker' },
        { 'app.kubernetes.io/name': 'other', 'app.kubernetes.io/component': 'query' },
        {},
      ];
      const admitted = candidates.filter((l) => rules.some((r: any) => r.from.some((peer: any) => selects(peer.podSelector, l))));
      expect({ name, admitted: admitted.map((l) => `${l['app.kubernetes.io/name']}/${l['app.kubernetes.io/component']}`).sort() }).toEqual({ name, admitted: users(store.variable).map((c) => `ephemera/${c}`) });
    }
  });

  it.each(TREES)('%s: the query service may reach GitHub over HTTPS (TCP 443) for sign-in, and DNS', (tree) => {
    const policy = find(rendered[tree], 'NetworkPolicy', 'ephemera-query');
    expect(policy.spec.policyTypes).toContain('Egress');
    expect(policy.spec.egress).toContainEqual({ ports: [{ protocol: 'TCP', port: 443 }] });
    const labels = find(rendered[tree], 'Deployment', 'query').spec.template.metadata.labels;
    expect(allowedFor(rendered[tree], labels).egress).toEqual(expect.arrayContaining(['TCP/443', 'UDP/53 (namespace kube-system)', 'TCP/53 (namespace kube-system)']));
    // The address it signs in with is GitHub's, over HTTPS, on that port.
    const config = find(rendered[tree], 'ConfigMap', 'ephemera-config').data;
    for (const key of ['GITHUB_URL', 'GITHUB_API_URL']) expect(new URL(config[key]).protocol).toBe('https:');
  });
});

// ------------------------------------------------------------------------------------------------ availability

describe('availability', () => {
  it.each(TREES)('%s: a PodDisruptionBudget and an autoscaling/v2 HorizontalPodAutoscaler for each service, which owns the replica count', (tree) => {
    const objects = rendered[tree];
    for (const name of SERVICES) {
      const deployment = find(objects, 'Deployment', name);
      // No spec.replicas: an apply would otherwise reset what the autoscaler scaled to.
      expect(deployment.spec.replicas).toBeUndefined();
      expect(deployment.spec.strategy.rollingUpdate).toEqual({ maxUnavailable: 0, maxSurge: 1 });
      const pdb = find(objects, 'PodDisruptionBudget', name);
      expect(pdb.spec).toEqual({ maxUnavailable: 1, selector: deployment.spec.selector });
      const hpa = find(objects, 'HorizontalPodAutoscaler', name);
      expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name });
      expect(hpa.spec.metrics).toEqual([{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }]);
      expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
      // Two of each in production (the floor the autoscaler keeps); one to try.
      if (PRODUCTION_TREES.includes(tree)) expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
      else expect(hpa.spec.minReplicas).toBe(1);
      // Spread over nodes, so two replicas are two failure domains where the cluster has them.
      expect(deployment.spec.template.spec.topologySpreadConstraints[0]).toMatchObject({ topologyKey: 'kubernetes.io/hostname', labelSelector: deployment.spec.selector });
    }
  });

  it('the try overlay adds PostgreSQL and Redis as single-replica StatefulSets with volumes; Redis keeps every job (AOF, noeviction)', () => {
    const objects = rendered.try;
    for (const name of ['postgres', 'redis']) {
      const set = find(objects, 'StatefulSet', name);
      expect(set.spec).toMatchObject({ replicas: 1, serviceName: name });
      expect(find(objects, 'Service', name).spec.clusterIP).toBe('None');
      const [claim] = set.spec.volumeClaimTemplates;
      expect(claim).toMatchObject({ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'] } });
      expect(quantity(claim.spec.resources.requests.storage)).toBeGreaterThanOrEqual(quantity('1Gi'));
      expect(set.spec.template.spec.containers[0].volumeMounts).toContainEqual({ name: 'data', mountPath: name === 'redis' ? '/data' : '/var/lib/postgresql/data' });
    }
    const args: string[] = find(objects, 'StatefulSet', 'redis').spec.template.spec.containers[0].args;
    const option = (flag: string) => args[args.indexOf(flag) + 1];
    expect(args[0]).toBe('redis-server');
    expect({ appendonly: option('--appendonly'), appendfsync: option('--appendfsync'), policy: option('--maxmemory-policy'), dir: option('--dir') }).toEqual({
      appendonly: 'yes',
      appendfsync: 'everysec',
      policy: 'noeviction',
      dir: '/data',
    });
    // maxmemory stays under the container's limit, so Redis refuses writes before the kernel kills it.
    const redis = find(objects, 'StatefulSet', 'redis').spec.template.spec.containers[0];
    expect(quantity(option('--maxmemory')!.replace(/mb$/, 'Mi'))).toBeLessThan(quantity(redis.resources.limits.memory));
    const postgres = environmentOf(objects, find(objects, 'StatefulSet', 'postgres').spec.template.spec.containers[0], { POSTGRES_PASSWORD: 'pw' });
    expect(postgres).toMatchObject({ POSTGRES_USER: 'ephemera', POSTGRES_DB: 'ephemera', PGDATA: '/var/lib/postgresql/data/pgdata' });
    expect(rendered.production.some((o) => o.kind === 'StatefulSet')).toBe(false);
  });
});

// ------------------------------------------------------------------------------------------------ compose agreement

describe('docker-compose.yml and the manifests', () => {
  /** What each service is given by name in docker-compose.yml. */
  function composeVariables(service: string): string[] {
    const compose = parseYaml(read('docker-compose.yml'), { merge: true }) as { services: Record<string, { environment?: Record<string, unknown> | string[] }> };
    const env = compose.services[service]?.environment ?? {};
    return Array.isArray(env) ? env.map((e) => e.split('=')[0]!) : Object.keys(env);
  }

  it.each(['ingest', 'worker', 'query'])('%s: every variable compose sets is set by the production manifests too', (name) => {
    const container = find(rendered.production, 'Deployment', name).spec.template.spec.containers[0];
    // With the optional Secret keys given too: the names the manifests can set are what is compared.
    const manifests = environmentOf(rendered.production, container, { ...OPERATOR_SECRETS, ...Object.fromEntries(OPTIONAL_SECRET_KEYS.map((k) => [k, 'set'])) });
    // Compose runs the local `none` provisioner and its own fixed ports; the names are what must agree.
    const missing = composeVariables(name).filter((v) => !(v in manifests));
    expect(missing).toEqual([]);
  });
});
