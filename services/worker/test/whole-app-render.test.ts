import { describe, expect, it } from '@jest/globals';
import type { V1Deployment, V1Secret, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import { parseConfig } from '@ephemera/runtime';
import { workerConfigSchema } from '../src/config.js';
import { addonSecret } from '../src/provisioners/kubernetes/preview-addons.js';
import { jobManifest } from '../src/provisioners/kubernetes/preview-job.js';
import { deploymentsOf, ingressOf, ofKind, previewConfig, renderInput, renderPreview } from './preview-render.js';

/* The objects of a whole app: add-ons (StatefulSet, Service, Secret), job runs and routes, as rendered. */

const APP = `version: 1
services:
  web:
    image: ghcr.io/acme/web:{{sha}}
    port: 3000
  api:
    image: ghcr.io/acme/api:{{sha}}
    port: 8080
addons:
  db: { type: postgres, storage: 2Gi }
  cache: { type: redis }
jobs:
  migrate:
    image: ghcr.io/acme/api:{{sha}}
    command: [npm, run, migrate]
    when: before_deploy
    timeout_seconds: 300
  seed: { image: "ghcr.io/acme/api:{{sha}}", command: [npm, run, seed], when: after_create }
routes:
  - { path: /, service: web }
  - { path: /api, service: api }
`;

describe('a whole app rendered', () => {
  const config = previewConfig(APP);
  const objects = renderPreview({}, config);

  it('each add-on is a StatefulSet of one pod with a claim of its storage, and a Service named after it', () => {
    const [db, cache] = ofKind<V1StatefulSet>(objects, 'StatefulSet');
    expect(db!.metadata!.name).toBe('db');
    expect(db!.spec!.replicas).toBe(1);
    expect(db!.spec!.template.spec!.containers[0]!.image).toBe('docker.io/library/postgres:16');
    expect(db!.spec!.volumeClaimTemplates![0]!.spec).toEqual({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '2Gi' } } });
    // The password reaches the database from its Secret, and the data lives in a directory of the volume.
    expect(db!.spec!.template.spec!.containers[0]!.env).toEqual(
      expect.arrayContaining([
        { name: 'POSTGRES_PASSWORD', valueFrom: { secretKeyRef: { name: 'db-credentials', key: 'password' } } },
        { name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' },
      ]),
    );
    // No commit on the add-on's pod template: a push does not restart the database.
    expect(JSON.stringify(db!.spec!.template)).not.toContain('a'.repeat(40));
    expect(cache!.spec!.template.spec!.containers[0]!.image).toBe('docker.io/library/redis:7');
    const services = ofKind<V1Service>(objects, 'Service');
    expect(services.find((s) => s.metadata!.name === 'db')!.spec!.ports).toEqual([{ name: 'addon', port: 5432, targetPort: 'addon', protocol: 'TCP' }]);
    expect(services.find((s) => s.metadata!.name === 'cache')!.spec!.ports![0]!.port).toBe(6379);
  });

  it('the quota bounds the claims; PREVIEW_STORAGE_CLASS, PREVIEW_QUOTA_STORAGE and PREVIEW_ADDON_IMAGES apply', () => {
    const quota = objects.find((o) => o.kind === 'ResourceQuota') as { spec: { hard: Record<string, string> } };
    expect(quota.spec.hard).toMatchObject({ 'requests.storage': '20Gi', persistentvolumeclaims: '2' });
    const tuned = renderPreview(
      { PREVIEW_STORAGE_CLASS: 'fast', PREVIEW_QUOTA_STORAGE: '50Gi', PREVIEW_ADDON_IMAGES: '{"postgres":"mirror.example.com/pg:{{version}}-bookworm"}' },
      config,
    );
    const [db, cache] = ofKind<V1StatefulSet>(tuned, 'StatefulSet');
    expect(db!.spec!.volumeClaimTemplates![0]!.spec!.storageClassName).toBe('fast');
    expect(db!.spec!.template.spec!.containers[0]!.image).toBe('mirror.example.com/pg:16-bookworm');
    expect(cache!.spec!.template.spec!.containers[0]!.image).toBe('docker.io/library/redis:7');
    expect((tuned.find((o) => o.kind === 'ResourceQuota') as { spec: { hard: Record<string, string> } }).spec.hard['requests.storage']).toBe('50Gi');
  });

  it('refuses a PREVIEW_ADDON_IMAGES that is not a map of types to images with {{version}}', () => {
    const base = { DATABASE_URL: 'postgresql://postgres@127.0.0.1/x', QUEUE_SIGNING_KEY: 'k'.repeat(32) };
    for (const bad of ['nope', '{"postgres":"postgres:16"}', '{"mongo":"mongo:{{version}}"}']) {
      expect(() => parseConfig(workerConfigSchema, { ...base, PREVIEW_ADDON_IMAGES: bad })).toThrow(/PREVIEW_ADDON_IMAGES/);
    }
  });

  it('every service and job gets each add-on URL from its Secret, never as a literal', () => {
    for (const d of deploymentsOf(objects)) {
      expect(d.spec!.template.spec!.containers[0]!.env).toEqual([
        { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'db-credentials', key: 'url' } } },
        { name: 'REDIS_URL', valueFrom: { secretKeyRef: { name: 'cache-credentials', key: 'url' } } },
      ]);
    }
    const run = jobManifest(renderInput({}, config), 'migrate', config.jobs!.migrate!, 'migrate-aaaaaaa-12');
    expect(run.spec!.template.spec!.containers[0]!.env).toEqual(deploymentsOf(objects)[0]!.spec!.template.spec!.containers[0]!.env);
    expect(JSON.stringify(objects)).not.toMatch(/postgres:\/\//);
  });

  it('the add-on Secret holds a URL to the add-on Service with the generated password', () => {
    const secret: V1Secret = addonSecret('db', config.addons!.db!, 'pr-7-web', 7, 'default', 's3cret');
    expect(secret.metadata!.name).toBe('db-credentials');
    expect(secret.stringData).toEqual({ username: 'app', password: 's3cret', database: 'app', url: 'postgres://app:s3cret@db:5432/app' });
    expect(addonSecret('cache', config.addons!.cache!, 'pr-7-web', 7, 'default', 'pw').stringData!.url).toBe('redis://:pw@cache:6379/0');
  });

  it('a job run: one pod, not retried, stopped at timeout_seconds, kept an hour, owned, without a token', () => {
    const run = jobManifest(renderInput({}, config), 'migrate', config.jobs!.migrate!, 'migrate-aaaaaaa-12');
    expect(run.metadata).toMatchObject({ name: 'migrate-aaaaaaa-12', namespace: 'pr-7-web', labels: { 'app.kubernetes.io/managed-by': 'ephemera', 'ephemera.dev/environment': '7' } });
    expect(run.spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 300, ttlSecondsAfterFinished: 3600 });
    expect(run.spec!.template.spec).toMatchObject({ restartPolicy: 'Never', automountServiceAccountToken: false });
    expect(run.spec!.template.spec!.containers[0]).toMatchObject({ image: `ghcr.io/acme/api:${'a'.repeat(40)}`, command: ['npm', 'run', 'migrate'] });
  });

  it('routes: one Ingress path per route, longest prefix first', () => {
    expect(ingressOf(objects).spec!.rules![0]!.http!.paths).toEqual([
      { path: '/api', pathType: 'Prefix', backend: { service: { name: 'api', port: { number: 8080 } } } },
      { path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 3000 } } } },
    ]);
  });

  it('a file without add-ons, jobs or routes renders as before, its quota allowing no claim', () => {
    const plain = renderPreview();
    expect(plain.filter((o) => o.kind === 'StatefulSet')).toEqual([]);
    expect((plain.find((o) => o.kind === 'ResourceQuota') as { spec: { hard: Record<string, string> } }).spec.hard.persistentvolumeclaims).toBe('0');
    expect(deploymentsOf(plain).every((d: V1Deployment) => !d.spec!.template.spec!.containers[0]!.env?.some((e) => e.valueFrom?.secretKeyRef))).toBe(true);
  });
});
