import type { KubernetesObject, V1Deployment, V1Ingress } from '@kubernetes/client-node';
import { parsePreviewConfig, type PreviewConfig } from '@ephemera/schema';
import type { PreviewManifestInput } from '../src/provisioners/kubernetes/preview-manifest-input.js';
import { previewManifests } from '../src/provisioners/kubernetes/preview-manifests.js';
import { workerSettings, type EnvOverrides } from './worker-settings.js';

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

/** The objects of one preview in namespace `pr-7-web`, rendered as the provisioner renders them (`env`: the worker's environment). */
export function renderPreview(env: EnvOverrides = {}, config: PreviewConfig = previewConfig()): KubernetesObject[] {
  return previewManifests(renderInput(env, config));
}

/** What renderPreview renders from. */
export function renderInput(env: EnvOverrides = {}, config: PreviewConfig = previewConfig()): PreviewManifestInput {
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
    settings: workerSettings(env),
  };
}

export const ofKind = <T extends KubernetesObject>(objects: KubernetesObject[], kind: string) => objects.filter((o) => o.kind === kind) as T[];
export const deploymentsOf = (objects: KubernetesObject[]) => ofKind<V1Deployment>(objects, 'Deployment');
export const ingressOf = (objects: KubernetesObject[]) => ofKind<V1Ingress>(objects, 'Ingress')[0]!;
