import type { KubernetesObject, V1Deployment, V1Ingress } from '@kubernetes/client-node';
import { parseConfig } from '@ephemera/runtime';
import { parsePreviewConfig, type PreviewConfig } from '@ephemera/schema';
import { previewGateway, previewTlsMode, workerConfigSchema } from '../src/config.js';
import { previewManifests, type PreviewClusterSettings, type PreviewManifestInput } from '../src/provisioners/kubernetes/preview-manifests.js';

/** A two-service preview, as the tests of the rendered objects use it. */
export const PREVIEW_YAML = `version: 1
services:
  web:
    image: ghcr.io/acme/web:{{sha}}
    port: 3000
    health: { path: /healthz }
  worker:
    image: docker.io/library/node:20
    command: ["node", "worker.js"]
expose: web
`;

export function previewConfig(text = PREVIEW_YAML): PreviewConfig {
  const parsed = parsePreviewConfig(text);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.config;
}

/** The cluster settings the worker derives from its environment (defaults for whatever `env` leaves out). */
export function settingsFromEnv(env: Record<string, string> = {}): PreviewClusterSettings {
  const environment = { DATABASE_URL: 'postgresql://postgres@127.0.0.1/x', QUEUE_SIGNING_KEY: 'k'.repeat(32), ...env };
  const c = parseConfig(workerConfigSchema, environment);
  const gateway = previewGateway(c, environment);
  return {
    instance: c.EPHEMERA_INSTANCE,
    quota: { cpu: c.PREVIEW_QUOTA_CPU, memory: c.PREVIEW_QUOTA_MEMORY, pods: c.PREVIEW_QUOTA_PODS },
    defaults: { cpu: c.PREVIEW_DEFAULT_CPU, memory: c.PREVIEW_DEFAULT_MEMORY },
    ephemeralStorage: { default: c.PREVIEW_DEFAULT_EPHEMERAL_STORAGE, quota: c.PREVIEW_QUOTA_EPHEMERAL_STORAGE },
    quotaStorage: c.PREVIEW_QUOTA_STORAGE,
    storageClass: c.PREVIEW_STORAGE_CLASS,
    addonImages: c.PREVIEW_ADDON_IMAGES,
    podSecurity: c.PREVIEW_POD_SECURITY,
    routing: gateway
      ? { mode: 'gateway', gateway }
      : { mode: 'ingress', namespace: c.INGRESS_NAMESPACE, className: c.INGRESS_CLASS, tls: { mode: previewTlsMode(c), secretName: c.PREVIEW_TLS_SECRET?.name, issuer: c.PREVIEW_TLS_ISSUER } },
    egress: { denyCidrs: c.PREVIEW_EGRESS_DENY_CIDRS, allowCidrs: c.PREVIEW_EGRESS_ALLOW_CIDRS },
    imagePullSecretName: c.PREVIEW_IMAGE_PULL_SECRET?.name,
    imagePullSecretRegistries: c.PREVIEW_IMAGE_PULL_SECRET_REGISTRIES,
  };
}

/** The objects of one preview in namespace `pr-7-web`, rendered as the provisioner renders them. */
export function renderPreview(env: Record<string, string> = {}, config: PreviewConfig = previewConfig()): KubernetesObject[] {
  return previewManifests(renderInput(env, config));
}

/** What renderPreview renders from. */
export function renderInput(env: Record<string, string> = {}, config: PreviewConfig = previewConfig()): PreviewManifestInput {
  return {
    namespace: 'pr-7-web',
    environmentId: 7,
    prNumber: 7,
    repositoryFullName: 'acme/web',
    pullRequestUrl: 'https://github.com/acme/web/pull/7',
    commitSha: 'a'.repeat(40),
    host: 'pr-7-web.preview.test',
    config,
    placeholders: { sha: 'a'.repeat(40), short_sha: 'aaaaaaa', pr: '7', branch_slug: 'feature', namespace: 'pr-7-web', url: 'https://pr-7-web.preview.test', repository: 'acme/web' },
    settings: settingsFromEnv(env),
  };
}

export const ofKind = <T extends KubernetesObject>(objects: KubernetesObject[], kind: string) => objects.filter((o) => o.kind === kind) as T[];
export const deploymentsOf = (objects: KubernetesObject[]) => ofKind<V1Deployment>(objects, 'Deployment');
export const ingressOf = (objects: KubernetesObject[]) => ofKind<V1Ingress>(objects, 'Ingress')[0]!;
