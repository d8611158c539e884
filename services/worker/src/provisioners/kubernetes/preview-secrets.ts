import type { KubernetesObject, V1Secret } from '@kubernetes/client-node';
import type { PreviewConfig } from '@ephemera/schema';
import { ProvisionError, type ProvisionTarget } from '../provisioner.js';
import type { SecretRef } from './access-check.js';
import { kubeRead } from './kube-api.js';
import { ANNOTATIONS, ownerLabels } from './preview-labels.js';
import type { ProvisionerContext } from './provisioner-context.js';

/** Every Secret the provisioner may copy into a preview: the worker needs `get` on each, and on nothing else. */
export function sourceSecrets({ settings, tlsMode }: ProvisionerContext): SecretRef[] {
  const refs: SecretRef[] = [];
  if (settings.PREVIEW_TLS_SECRET && tlsMode === 'copy') refs.push(settings.PREVIEW_TLS_SECRET);
  if (settings.PREVIEW_IMAGE_PULL_SECRET) refs.push(settings.PREVIEW_IMAGE_PULL_SECRET);
  if (settings.PREVIEW_SECRETS_NAMESPACE) for (const name of settings.PREVIEW_SECRETS_ALLOWED) refs.push({ namespace: settings.PREVIEW_SECRETS_NAMESPACE, name });
  return refs.filter((r, i) => refs.findIndex((x) => x.namespace === r.namespace && x.name === r.name) === i);
}

/** secret_env only for pull requests from the repository itself, and only Secrets the operator allows. */
export function checkSecrets({ settings }: ProvisionerContext, config: PreviewConfig, target: ProvisionTarget): void {
  const wanted = [...Object.entries(config.services), ...Object.entries(config.jobs ?? {})].flatMap(([svc, s]) => s.secret_env.map((e) => ({ svc, ...e })));
  if (wanted.length === 0) return;
  if (target.fromFork) {
    throw new ProvisionError(
      `secret_env is refused for pull requests from forks: the fork's code would receive the secrets (services.${wanted[0]!.svc}.secret_env). Deploy without secret_env, or push the branch to the repository itself.`,
      false,
    );
  }
  const namespace = settings.PREVIEW_SECRETS_NAMESPACE;
  const refused = [...new Set(wanted.map((w) => w.secret))].filter((s) => !namespace || !settings.PREVIEW_SECRETS_ALLOWED.includes(s));
  if (refused.length > 0) {
    throw new ProvisionError(
      `secret_env names Secrets this installation does not share with previews: ${refused.join(', ')} (the operator lists them in PREVIEW_SECRETS_ALLOWED${namespace ? '' : ' with PREVIEW_SECRETS_NAMESPACE'})`,
      false,
    );
  }
}

/** The Secrets a preview gets copies of, each with the keys it must have: those of secret_env, the image pull secret and the TLS secret. */
function wantedCopies({ settings, tlsMode }: ProvisionerContext, config: PreviewConfig): Array<SecretRef & { keys: string[] }> {
  const refs = new Map<string, SecretRef & { keys: string[] }>();
  const add = (ref: SecretRef, keys: string[] = []) => {
    const k = `${ref.namespace}/${ref.name}`;
    refs.set(k, { ...ref, keys: [...(refs.get(k)?.keys ?? []), ...keys] });
  };
  for (const s of [...Object.values(config.services), ...Object.values(config.jobs ?? {})]) {
    for (const e of s.secret_env) add({ namespace: settings.PREVIEW_SECRETS_NAMESPACE!, name: e.secret }, [e.key]);
  }
  if (settings.PREVIEW_IMAGE_PULL_SECRET) add(settings.PREVIEW_IMAGE_PULL_SECRET);
  // Only PREVIEW_TLS_MODE=copy copies the certificate's key into the preview.
  if (settings.PREVIEW_TLS_SECRET && tlsMode === 'copy') add(settings.PREVIEW_TLS_SECRET);
  return [...refs.values()];
}

/** The Secrets copied in, read from their namespaces: those of secret_env, the image pull secret and the TLS secret. */
export async function secretCopies(ctx: ProvisionerContext, config: PreviewConfig, target: ProvisionTarget, signal: AbortSignal): Promise<KubernetesObject[]> {
  const names = new Set<string>();
  const out: KubernetesObject[] = [];
  for (const ref of wantedCopies(ctx, config)) {
    if (names.has(ref.name)) throw new ProvisionError(`two Secrets named ${ref.name} would be copied into the preview`, false);
    names.add(ref.name);
    const source: V1Secret | null = await kubeRead(() => ctx.api.core.readNamespacedSecret({ name: ref.name, namespace: ref.namespace }), {
      signal,
      what: `reading Secret ${ref.namespace}/${ref.name}`,
    });
    if (!source) throw new ProvisionError(`Secret ${ref.name} does not exist in namespace ${ref.namespace}`, false);
    const missing = ref.keys.filter((k) => !(k in (source.data ?? {})));
    if (missing.length > 0) throw new ProvisionError(`Secret ${ref.namespace}/${ref.name} has no key ${missing.join(', ')}`, false);
    out.push(copiedSecret(source, target.namespace, target.environmentId, ctx.settings.EPHEMERA_INSTANCE));
  }
  return out;
}

/** A Secret copied into a preview namespace: its data and type, under this environment's labels. */
export function copiedSecret(source: V1Secret, namespace: string, environmentId: number, instance: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: source.metadata!.name!,
      namespace,
      labels: ownerLabels(environmentId, instance),
      annotations: { [ANNOTATIONS.copiedFrom]: `${source.metadata!.namespace}/${source.metadata!.name}` },
    },
    type: source.type ?? 'Opaque',
    data: { ...(source.data ?? {}) },
  };
}
