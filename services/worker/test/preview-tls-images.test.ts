import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Certificate } from '@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate';
import { startFakeKubernetes, type FakeKubernetes } from '@ephemera/testkit';
import { loadWorkerConfig } from '../src/config.js';
import { imageAllowed, registryHost } from '../src/provisioners/kubernetes/image-policy.js';
import { KubeApi } from '../src/provisioners/kubernetes/kube-api.js';
import { CERT_MANAGER_ISSUER } from '../src/provisioners/kubernetes/preview-route.js';
import { ProvisionError, type ProvisionTarget } from '../src/provisioners/provisioner.js';
import { KUBE_SECOND_MS, directProvisioner, directTarget } from './kube-provisioner.js';
import { PREVIEW_YAML, deploymentsOf, ingressOf, previewConfig, renderPreview } from './preview-render.js';
import type { EnvOverrides } from './worker-settings.js';

const HOST = 'pr-7-web.preview.test';
const base = { DATABASE_URL: 'postgresql://postgres@127.0.0.1/x', QUEUE_SIGNING_KEY: 'k'.repeat(32) };

describe('PREVIEW_TLS_MODE: the rendered Ingress', () => {
  it('default (https, no PREVIEW_TLS_SECRET): default-certificate, the host under tls without a Secret', () => {
    const ingress = ingressOf(renderPreview());
    expect(ingress.spec!.tls).toEqual([{ hosts: [HOST] }]);
    expect(ingress.metadata!.annotations).toBeUndefined();
  });

  it('cert-manager: the ClusterIssuer annotation and a per-preview Secret for cert-manager to fill', () => {
    const ingress = ingressOf(renderPreview({ PREVIEW_TLS_MODE: 'cert-manager', PREVIEW_TLS_ISSUER: 'letsencrypt' }));
    expect(ingress.spec!.tls).toEqual([{ hosts: [HOST], secretName: 'preview-tls' }]);
    expect(ingress.metadata!.annotations).toEqual({ [CERT_MANAGER_ISSUER]: 'letsencrypt' });
    expect(CERT_MANAGER_ISSUER).toBe('cert-manager.io/cluster-issuer');
    // What cert-manager's ingress-shim makes of the annotated Ingress (one Certificate per tls entry with a
    // secretName, its hosts as dnsNames, the annotation's ClusterIssuer): a Certificate its own schema accepts.
    const issuer = ingress.metadata!.annotations![CERT_MANAGER_ISSUER]!;
    const certificates = ingress.spec!.tls!.map(
      (tls) =>
        new Certificate({
          metadata: { name: tls.secretName!, namespace: ingress.metadata!.namespace! },
          spec: { secretName: tls.secretName!, dnsNames: tls.hosts!, issuerRef: { name: issuer, kind: 'ClusterIssuer', group: 'cert-manager.io' } },
        }),
    );
    expect(certificates).toHaveLength(1);
    for (const c of certificates) expect(() => c.validate()).not.toThrow();
    expect(() => new Certificate({ metadata: { name: 'x' }, spec: { dnsNames: [HOST] } as never }).validate()).toThrow();
  });

  it('copy (the default with PREVIEW_TLS_SECRET): the copied Secret by name', () => {
    expect(ingressOf(renderPreview({ PREVIEW_TLS_SECRET: 'ingress-nginx/wildcard-tls' })).spec!.tls).toEqual([{ hosts: [HOST], secretName: 'wildcard-tls' }]);
  });

  it('none (the default with http): no tls section', () => {
    expect(ingressOf(renderPreview({ PREVIEW_URL_SCHEME: 'http' })).spec!.tls).toBeUndefined();
    expect(ingressOf(renderPreview({ PREVIEW_TLS_MODE: 'none' })).spec!.tls).toBeUndefined();
  });

  it('combinations that cannot work are refused at start, naming the variables', () => {
    expect(() => loadWorkerConfig({ ...base, PREVIEW_TLS_MODE: 'copy' })).toThrow('PREVIEW_TLS_MODE=copy needs PREVIEW_TLS_SECRET');
    expect(() => loadWorkerConfig({ ...base, PREVIEW_TLS_MODE: 'cert-manager' })).toThrow('PREVIEW_TLS_MODE=cert-manager needs PREVIEW_TLS_ISSUER');
    expect(() => loadWorkerConfig({ ...base, PREVIEW_TLS_MODE: 'default-certificate', PREVIEW_TLS_SECRET: 'a/b' })).toThrow(/PREVIEW_TLS_SECRET is only read with PREVIEW_TLS_MODE=copy/);
    expect(() => loadWorkerConfig({ ...base, PREVIEW_TLS_ISSUER: 'letsencrypt' })).toThrow(/PREVIEW_TLS_ISSUER is only used with PREVIEW_TLS_MODE=cert-manager/);
    expect(() => loadWorkerConfig({ ...base, PREVIEW_TLS_MODE: 'sometimes' })).toThrow(/PREVIEW_TLS_MODE/);
    expect(loadWorkerConfig({ ...base, PREVIEW_TLS_MODE: 'cert-manager', PREVIEW_TLS_ISSUER: 'letsencrypt' }).PREVIEW_TLS_ISSUER).toBe('letsencrypt');
  });
});

describe('images', () => {
  it('PREVIEW_IMAGE_ALLOWED patterns glob over the whole reference; registry hosts as runtimes read them', () => {
    expect(imageAllowed('ghcr.io/acme/web:1', ['ghcr.io/acme/*'])).toBe(true);
    expect(imageAllowed('ghcr.io/acme/team/web@sha256:ab', ['ghcr.io/acme/*'])).toBe(true);
    expect(imageAllowed('ghcr.io/acmeevil/web:1', ['ghcr.io/acme/*'])).toBe(false);
    expect(imageAllowed('evil.io/ghcr.io/acme/web:1', ['ghcr.io/acme/*'])).toBe(false);
    expect(imageAllowed('anything', [])).toBe(true);
    expect(registryHost('node:20')).toBe('docker.io');
    expect(registryHost('library/node:20')).toBe('docker.io');
    expect(registryHost('ghcr.io/acme/web:1')).toBe('ghcr.io');
    expect(registryHost('localhost:5000/web')).toBe('localhost:5000');
  });

  it('the pull secret goes only to pods whose image is on PREVIEW_IMAGE_PULL_SECRET_REGISTRIES (unset: every pod)', () => {
    const pulls = (env: Record<string, string>) => deploymentsOf(renderPreview({ PREVIEW_IMAGE_PULL_SECRET: 'preview-secrets/registry', ...env })).map((d) => [d.metadata!.name, d.spec!.template.spec!.imagePullSecrets]);
    expect(pulls({})).toEqual([['web', [{ name: 'registry' }]], ['worker', [{ name: 'registry' }]]]);
    expect(pulls({ PREVIEW_IMAGE_PULL_SECRET_REGISTRIES: 'ghcr.io' })).toEqual([['web', [{ name: 'registry' }]], ['worker', undefined]]);
  });
});

describe('TLS copies and the image allow-list, against the fake API server', () => {
  let fake: FakeKubernetes;
  let dir: string;
  let api: KubeApi;
  beforeAll(async () => {
    fake = await startFakeKubernetes({ terminatingMs: 50, controllerDelayMs: 10, secondMs: KUBE_SECOND_MS });
    fake.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ingress-nginx' } });
    fake.seed({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { namespace: 'ingress-nginx', name: 'wildcard-tls' }, data: { 'tls.crt': 'Y2VydA==', 'tls.key': 'a2V5' } });
    dir = mkdtempSync(path.join(tmpdir(), 'ephemera-tls-'));
    api = new KubeApi({ kubeconfigPath: fake.writeKubeconfig(dir), requestTimeoutMs: 5_000 });
  });
  afterAll(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const provisioner = (env: EnvOverrides = {}) => directProvisioner(api, 'tls', env);
  const target = (pr: number): ProvisionTarget => directTarget(pr, 'tls', 'd'.repeat(40), { file: '.ephemera.yml', config: previewConfig(PREVIEW_YAML) });
  const signal = new AbortController().signal;
  const secrets = (ns: string) => fake.list('v1', 'Secret', ns).map((s) => s.metadata.name);

  it('copy: the wildcard Secret is copied in and used', async () => {
    await provisioner({ PREVIEW_TLS_SECRET: 'ingress-nginx/wildcard-tls' }).provision(target(1), () => undefined, signal);
    expect(secrets('pr-1-web-tls')).toEqual(['wildcard-tls']);
    expect(fake.list('networking.k8s.io/v1', 'Ingress', 'pr-1-web-tls')[0].spec.tls).toEqual([{ hosts: ['pr-1-web-tls.preview.test'], secretName: 'wildcard-tls' }]);
  });

  it('default-certificate and cert-manager: nothing is copied, the key is never read', async () => {
    const before = fake.requests.length;
    await provisioner({}).provision(target(2), () => undefined, signal);
    await provisioner({ PREVIEW_TLS_MODE: 'cert-manager', PREVIEW_TLS_ISSUER: 'letsencrypt' }).provision(target(3), () => undefined, signal);
    expect(secrets('pr-2-web-tls')).toEqual([]);
    expect(secrets('pr-3-web-tls')).toEqual([]);
    expect(fake.requests.slice(before).filter((r) => r.resource === 'secrets')).toEqual([]);
    const issued = fake.list('networking.k8s.io/v1', 'Ingress', 'pr-3-web-tls')[0];
    expect(issued.metadata.annotations).toMatchObject({ 'cert-manager.io/cluster-issuer': 'letsencrypt' });
    expect(issued.spec.tls).toEqual([{ hosts: ['pr-3-web-tls.preview.test'], secretName: 'preview-tls' }]);
  });

  it('an image outside PREVIEW_IMAGE_ALLOWED fails before anything is applied, naming the image and the patterns', async () => {
    const before = fake.requests.length;
    const failure = provisioner({ PREVIEW_IMAGE_ALLOWED: 'ghcr.io/acme/*' }).provision(target(4), () => undefined, signal);
    await expect(failure).rejects.toThrow('services.worker.image docker.io/library/node:20 is not an image this installation runs (PREVIEW_IMAGE_ALLOWED: ghcr.io/acme/*)');
    await expect(failure).rejects.toMatchObject({ transient: false });
    await expect(failure).rejects.toBeInstanceOf(ProvisionError);
    expect(fake.requests.slice(before).filter((r) => r.verb !== 'get')).toEqual([]);
    expect(fake.get('v1', 'Namespace', undefined, 'pr-4-web-tls')).toBeUndefined();
  });
});
