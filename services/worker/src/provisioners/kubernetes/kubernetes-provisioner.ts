import { setTimeout as sleep } from 'node:timers/promises';
import { PatchStrategy, setHeaderOptions, type KubernetesObject, type V1Deployment, type V1Namespace, type V1Secret } from '@kubernetes/client-node';
import { branchSlug, type PreviewConfig } from '@ephemera/schema';
import type { PreviewConfigSource } from '../preview-config-source.js';
import { ProvisionError, type LogSink, type OwnedNamespace, type ProvisionResult, type ProvisionTarget, type Provisioner } from '../provisioner.js';
import { isNotFound, kubeCall, kubeFailure, kubeRead, type KubeApi } from './kube-api.js';
import { KUBERNETES_PERMISSIONS } from './kubernetes-permissions.js';
import {
  LABELS,
  MANAGED_BY,
  PRUNABLE_KINDS,
  copiedSecret,
  environmentSelector,
  instanceSelector,
  previewManifests,
  type PreviewClusterSettings,
} from './preview-manifests.js';
import { FATAL_PROBLEMS, describeEvent, podProblems, rolloutState, warningEvents, type PodProblem } from './rollout-status.js';

/** A Secret named `namespace/name` in the operator's settings. */
export interface SecretRef {
  namespace: string;
  name: string;
}

export interface KubernetesProvisionerOptions {
  api: KubeApi;
  configs: PreviewConfigSource;
  /** EPHEMERA_INSTANCE: whose objects are whose when several installations share a cluster. */
  instance: string;
  baseDomain: string;
  urlScheme: 'http' | 'https';
  quota: PreviewClusterSettings['quota'];
  defaults: PreviewClusterSettings['defaults'];
  ingressNamespace: string;
  ingressClass: string | undefined;
  tlsSecret: SecretRef | undefined;
  imagePullSecret: SecretRef | undefined;
  secretsNamespace: string | undefined;
  secretsAllowed: readonly string[];
  destroyTimeoutSeconds: number;
  /** Where pull requests are shown (https://github.com, or a GitHub Enterprise Server). */
  githubWebUrl: string;
  /** How often a rollout or a deletion is checked. */
  pollIntervalMs?: number;
  /** Lines of a failing container's log kept in the error. */
  logTailLines?: number;
  /** How long one configured second lasts (timeouts); tests shorten it. */
  secondMs?: number;
}

const FIELD_MANAGER = 'ephemera';

/**
 * Previews on Kubernetes: a namespace per environment, fenced by a quota, default limits and a network policy,
 * with the repository's services (from `.ephemera.yml`) as Deployments and Services behind one Ingress. Objects
 * are applied server-side as field manager `ephemera`, whole each time, so a provision and an update are the
 * same operation; objects a new configuration no longer has are deleted. Every object carries this
 * installation's labels, and nothing without them is ever changed or deleted.
 */
export class KubernetesProvisioner implements Provisioner {
  readonly name = 'kubernetes';
  private readonly pollMs: number;
  private readonly tailLines: number;
  private readonly secondMs: number;

  constructor(private readonly o: KubernetesProvisionerOptions) {
    this.pollMs = o.pollIntervalMs ?? 2_000;
    this.tailLines = o.logTailLines ?? 20;
    this.secondMs = o.secondMs ?? 1_000;
  }

  /**
   * Checks at start that the API answers and grants every verb the provisioner uses, so a missing permission
   * stops the worker with its name instead of failing the first preview.
   */
  async checkAccess(signal: AbortSignal = new AbortController().signal): Promise<void> {
    const api = this.o.api;
    try {
      await api.version.getCode();
    } catch (err) {
      throw new Error(`cannot reach the Kubernetes API at ${api.server}: ${kubeFailure(err).message}`, { cause: err });
    }
    const checks = KUBERNETES_PERMISSIONS.flatMap((p) => p.verbs.map((verb) => ({ verb, group: p.group, resource: p.resource })));
    const refused: string[] = [];
    await Promise.all(
      checks.map(async ({ verb, group, resource }) => {
        const [name, subresource] = resource.split('/') as [string, string | undefined];
        const review = await kubeCall(
          () =>
            api.authorization.createSelfSubjectAccessReview({
              body: {
                apiVersion: 'authorization.k8s.io/v1',
                kind: 'SelfSubjectAccessReview',
                spec: { resourceAttributes: { verb, group, resource: name, ...(subresource ? { subresource } : {}) } },
              },
            }),
          { signal, what: `checking permission ${verb} ${resource}` },
        ).catch((err: Error) => {
          throw new Error(`the Kubernetes API at ${api.server} refused a permission check: ${err.message}`, { cause: err });
        });
        if (!review.status?.allowed) refused.push(`${verb} ${group ? `${resource}.${group}` : resource}`);
      }),
    );
    if (refused.length > 0) {
      throw new Error(
        `the Kubernetes API at ${api.server} refuses what the provisioner needs (cluster-wide): ${refused.sort().join(', ')}; grant them to the worker's identity (see the ClusterRole in the README)`,
      );
    }
  }

  provision(target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<ProvisionResult> {
    return this.apply(target, log, signal);
  }

  update(target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<ProvisionResult> {
    return this.apply(target, log, signal);
  }

  private async apply(target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<ProvisionResult> {
    if (target.configSha === null) {
      throw new ProvisionError('the pull request\'s base commit is not known yet, so its configuration cannot be read; push a commit or reopen the pull request', false);
    }
    const { file, config } =
      target.config ??
      (await this.o.configs.load({
        installationId: target.installationId,
        repositoryFullName: target.repositoryFullName,
        sha: target.configSha,
        fromFork: target.fromFork,
      }));
    log(`configuration: ${file} at ${target.configSha.slice(0, 7)}; services ${Object.keys(config.services).join(', ')}`);
    this.checkSecrets(config, target);

    const host = `${target.namespace}.${this.o.baseDomain}`;
    const url = `${this.o.urlScheme}://${host}`;
    const manifests = previewManifests({
      namespace: target.namespace,
      environmentId: target.environmentId,
      prNumber: target.prNumber,
      repositoryFullName: target.repositoryFullName,
      pullRequestUrl: `${this.o.githubWebUrl}/${target.repositoryFullName}/pull/${target.prNumber}`,
      commitSha: target.commitSha,
      restartedAt: target.restartedAt ?? null,
      host,
      config,
      placeholders: {
        sha: target.commitSha,
        short_sha: target.commitSha.slice(0, 7),
        pr: String(target.prNumber),
        branch_slug: branchSlug(target.branchName),
        namespace: target.namespace,
        url,
        repository: target.repositoryFullName,
      },
      settings: {
        instance: this.o.instance,
        quota: this.o.quota,
        defaults: this.o.defaults,
        ingressNamespace: this.o.ingressNamespace,
        ingressClass: this.o.ingressClass,
        tlsSecretName: this.o.tlsSecret?.name,
        imagePullSecretName: this.o.imagePullSecret?.name,
      },
    });

    await this.claimNamespace(target, log, signal);
    const [namespace, ...rest] = manifests;
    await this.applyObject(namespace!, signal);
    log(`namespace ${target.namespace} applied`);
    const secrets = await this.secretCopies(config, target, signal);
    const desired = [...rest.slice(0, 3), ...secrets, ...rest.slice(3)];
    for (const obj of desired) {
      if (obj.kind === 'Deployment') await this.dropRemovedProbes(obj as V1Deployment, signal);
      await this.applyObject(obj, signal);
    }
    log(`applied ${desired.map((o) => `${o.kind}/${o.metadata!.name}`).join(', ')}`);
    await this.prune(target, desired, log, signal);

    await this.waitForRollout(target, config, log, signal);
    log(`rollout complete; serving at ${url}`);
    return { url };
  }

  /** secret_env only for pull requests from the repository itself, and only Secrets the operator allows. */
  private checkSecrets(config: PreviewConfig, target: ProvisionTarget): void {
    const wanted = Object.entries(config.services).flatMap(([svc, s]) => s.secret_env.map((e) => ({ svc, ...e })));
    if (wanted.length === 0) return;
    if (target.fromFork) {
      throw new ProvisionError(
        `secret_env is refused for pull requests from forks: the fork's code would receive the secrets (services.${wanted[0]!.svc}.secret_env). Deploy without secret_env, or push the branch to the repository itself.`,
        false,
      );
    }
    const refused = [...new Set(wanted.map((w) => w.secret))].filter((s) => !this.o.secretsNamespace || !this.o.secretsAllowed.includes(s));
    if (refused.length > 0) {
      throw new ProvisionError(
        `secret_env names Secrets this installation does not share with previews: ${refused.join(', ')} (the operator lists them in PREVIEW_SECRETS_ALLOWED${this.o.secretsNamespace ? '' : ' with PREVIEW_SECRETS_NAMESPACE'})`,
        false,
      );
    }
  }

  /** The Secrets copied in: those of secret_env, the image pull secret and the TLS secret. */
  private async secretCopies(config: PreviewConfig, target: ProvisionTarget, signal: AbortSignal): Promise<KubernetesObject[]> {
    const refs = new Map<string, SecretRef & { keys: string[] }>();
    const add = (ref: SecretRef, keys: string[] = []) => {
      const k = `${ref.namespace}/${ref.name}`;
      refs.set(k, { ...ref, keys: [...(refs.get(k)?.keys ?? []), ...keys] });
    };
    for (const s of Object.values(config.services)) {
      for (const e of s.secret_env) add({ namespace: this.o.secretsNamespace!, name: e.secret }, [e.key]);
    }
    if (this.o.imagePullSecret) add(this.o.imagePullSecret);
    if (this.o.tlsSecret) add(this.o.tlsSecret);
    const names = new Set<string>();
    const out: KubernetesObject[] = [];
    for (const ref of refs.values()) {
      if (names.has(ref.name)) throw new ProvisionError(`two Secrets named ${ref.name} would be copied into the preview`, false);
      names.add(ref.name);
      const source: V1Secret | null = await kubeRead(() => this.o.api.core.readNamespacedSecret({ name: ref.name, namespace: ref.namespace }), {
        signal,
        what: `reading Secret ${ref.namespace}/${ref.name}`,
      });
      if (!source) throw new ProvisionError(`Secret ${ref.name} does not exist in namespace ${ref.namespace}`, false);
      const missing = ref.keys.filter((k) => !(k in (source.data ?? {})));
      if (missing.length > 0) throw new ProvisionError(`Secret ${ref.namespace}/${ref.name} has no key ${missing.join(', ')}`, false);
      out.push(copiedSecret(source, target.namespace, target.environmentId, this.o.instance));
    }
    return out;
  }

  /**
   * A readiness probe the configuration no longer has is removed first. Applying without it would drop only the
   * fields Ephemera set and leave the ones the API server defaulted (`scheme`, `timeoutSeconds`, …), a probe
   * without a port, which the server refuses.
   */
  private async dropRemovedProbes(desired: V1Deployment, signal: AbortSignal): Promise<void> {
    const name = desired.metadata!.name!;
    const namespace = desired.metadata!.namespace!;
    const live = await kubeRead(() => this.o.api.apps.readNamespacedDeployment({ name, namespace }), { signal, what: `reading Deployment ${name}` });
    const wanted = new Map(desired.spec!.template.spec!.containers.map((c) => [c.name, c] as const));
    const dropped = (live?.spec?.template.spec?.containers ?? []).filter((c) => c.readinessProbe && !wanted.get(c.name)?.readinessProbe);
    if (dropped.length === 0) return;
    const patch = { spec: { template: { spec: { containers: dropped.map((c) => ({ name: c.name, readinessProbe: null })) } } } };
    await kubeCall(
      () =>
        this.o.api.apps.patchNamespacedDeployment(
          { name, namespace, body: patch, fieldManager: FIELD_MANAGER },
          setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
        ),
      { signal, what: `removing the readiness probe of Deployment ${name}` },
    );
  }

  /** Applies one object, whole, as field manager `ephemera`. */
  private async applyObject(obj: KubernetesObject, signal: AbortSignal): Promise<void> {
    await kubeCall(() => this.o.api.objects.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply), {
      signal,
      what: `applying ${obj.kind} ${obj.metadata?.name}`,
    });
  }

  /**
   * Makes sure the namespace can be (re)used: one of another owner is refused, and one still being deleted (a
   * reopen right after a close, or a namespace removed by hand) is waited for.
   */
  private async claimNamespace(target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.o.destroyTimeoutSeconds * this.secondMs;
    let said = false;
    for (;;) {
      const ns = await this.readNamespace(target.namespace, signal);
      if (!ns) return;
      const labels = ns.metadata?.labels ?? {};
      if (labels[LABELS.managedBy] !== MANAGED_BY || labels[LABELS.instance] !== this.o.instance || labels[LABELS.environment] !== String(target.environmentId)) {
        throw new ProvisionError(`namespace ${target.namespace} exists and does not belong to this environment (labels ${LABELS.instance}, ${LABELS.environment}); it is left alone`, false);
      }
      if (!ns.metadata?.deletionTimestamp) return;
      if (!said) log(`namespace ${target.namespace} is still being deleted; waiting for it to go`);
      said = true;
      if (Date.now() > deadline) throw new ProvisionError(`namespace ${target.namespace} is still being deleted after ${this.o.destroyTimeoutSeconds} s`, true);
      await sleep(this.pollMs, undefined, { signal });
    }
  }

  private readNamespace(name: string, signal: AbortSignal): Promise<V1Namespace | null> {
    return kubeRead(() => this.o.api.core.readNamespace({ name }), { signal, what: `reading namespace ${name}` });
  }

  /** Deletes the environment's objects that the applied set no longer has (a service removed from the file). */
  private async prune(target: ProvisionTarget, desired: readonly KubernetesObject[], log: LogSink, signal: AbortSignal): Promise<void> {
    const keep = new Set(desired.map((o) => `${o.kind}/${o.metadata!.name}`));
    const selector = environmentSelector(target.environmentId, this.o.instance);
    for (const { apiVersion, kind } of PRUNABLE_KINDS) {
      const list = await kubeCall(() => this.o.api.objects.list(apiVersion, kind, target.namespace, undefined, undefined, undefined, undefined, selector), {
        signal,
        what: `listing ${kind}s`,
      });
      for (const item of list.items) {
        const name = item.metadata?.name;
        if (!name || keep.has(`${kind}/${name}`)) continue;
        await kubeCall(
          async () => {
            try {
              await this.o.api.objects.delete({ apiVersion, kind, metadata: { name, namespace: target.namespace } });
            } catch (err) {
              if (!isNotFound(err)) throw err;
            }
          },
          { signal, what: `deleting ${kind} ${name}` },
        );
        log(`removed ${kind}/${name} (no longer in the configuration)`);
      }
    }
  }

  /**
   * Waits for every Deployment by `kubectl rollout status`'s rules, up to the configuration's timeout. Pod
   * problems and warning events go to the log as they appear; a crashing container fails the rollout at once
   * (with the end of its log), while an image that cannot be pulled yet is waited for until the timeout, since
   * CI may still be pushing it.
   */
  private async waitForRollout(target: ProvisionTarget, config: PreviewConfig, log: LogSink, signal: AbortSignal): Promise<void> {
    const ns = target.namespace;
    const names = Object.keys(config.services);
    const deadline = Date.now() + config.timeout_seconds * this.secondMs;
    const seen = new Set<string>();
    const pending = new Set(names);
    let problems: PodProblem[] = [];
    let lastWaiting = '';
    const selector = environmentSelector(target.environmentId, this.o.instance);
    for (;;) {
      for (const name of [...pending]) {
        const d = await kubeCall(() => this.o.api.apps.readNamespacedDeployment({ name, namespace: ns }), { signal, what: `reading Deployment ${name}` });
        const state = rolloutState(d);
        if (state.state === 'done') {
          pending.delete(name);
          log(`${name}: ${state.message}`);
        } else if (state.state === 'failed') {
          throw new ProvisionError(`${name}: ${state.reason}: ${state.message}${await this.problemDetail(ns, problems.find((p) => p.service === name))}`, false);
        } else {
          lastWaiting = `${name}: ${state.message}`;
        }
      }
      if (pending.size === 0) return;

      const [pods, events] = await Promise.all([
        kubeCall(() => this.o.api.core.listNamespacedPod({ namespace: ns, labelSelector: selector }), { signal, what: 'listing pods' }),
        kubeCall(() => this.o.api.core.listNamespacedEvent({ namespace: ns }), { signal, what: 'listing events' }),
      ]);
      problems = podProblems(pods.items, LABELS.service).filter((p) => p.service === undefined || pending.has(p.service));
      for (const p of problems) {
        const key = `${p.pod}/${p.container}/${p.reason}`;
        if (!seen.has(key)) log(`${p.service ?? p.pod}: pod ${p.pod} container ${p.container}: ${p.reason}${p.message ? `: ${p.message}` : ''}`);
        seen.add(key);
      }
      for (const e of warningEvents(events.items)) {
        const key = `event/${e.metadata?.uid ?? e.metadata?.name}/${e.count ?? 1}`;
        if (!seen.has(key)) log(describeEvent(e));
        seen.add(key);
      }
      const fatal = problems.find((p) => FATAL_PROBLEMS.has(p.reason));
      if (fatal) {
        throw new ProvisionError(`${fatal.service ?? fatal.pod}: ${fatal.reason}${fatal.message ? `: ${fatal.message}` : ''}${await this.problemDetail(ns, fatal)}`, false);
      }
      if (Date.now() >= deadline) {
        const stuck = problems[0];
        const event = warningEvents(events.items).at(-1);
        const why = stuck
          ? `${stuck.service ?? stuck.pod}: ${stuck.reason}${stuck.message ? `: ${stuck.message}` : ''}`
          : event
            ? `${lastWaiting} (${describeEvent(event)})`
            : lastWaiting;
        throw new ProvisionError(`rollout did not finish within ${config.timeout_seconds} s: ${why}${await this.problemDetail(ns, stuck)}`, false);
      }
      await sleep(Math.min(this.pollMs, Math.max(0, deadline - Date.now())), undefined, { signal });
    }
  }

  /** The end of a failing container's log (its previous run's, when it restarted), for the error and the comment. */
  private async problemDetail(namespace: string, problem: PodProblem | undefined): Promise<string> {
    if (!problem || (problem.reason !== 'CrashLoopBackOff' && problem.restartCount === 0)) return '';
    const read = (previous: boolean) =>
      this.o.api.core.readNamespacedPodLog({ name: problem.pod, namespace, container: problem.container, tailLines: this.tailLines, previous });
    let text: string;
    try {
      text = await read(problem.restartCount > 0).catch(() => read(false));
    } catch (err) {
      return `\n(the container's log could not be read: ${kubeFailure(err).message})`;
    }
    const lines = text.trimEnd().split('\n').slice(-this.tailLines);
    const code = problem.exitCode === undefined ? '' : `, exit code ${problem.exitCode}`;
    return `\nlast log lines of ${problem.pod}/${problem.container}${code}:\n${lines.join('\n').slice(-4_000)}`;
  }

  /**
   * Deletes the namespace (and with it everything in it) and waits until it is gone, logging its conditions while
   * it is Terminating. A namespace that is already gone is success; one this installation does not own is left
   * alone.
   */
  async destroy(target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<void> {
    const name = target.namespace;
    const first = await this.readNamespace(name, signal);
    if (!first) {
      log(`namespace ${name} is already gone`);
      return;
    }
    const labels = first.metadata?.labels ?? {};
    if (labels[LABELS.managedBy] !== MANAGED_BY || labels[LABELS.instance] !== this.o.instance) {
      log(`namespace ${name} is not this installation's (labels ${LABELS.managedBy}, ${LABELS.instance}); left alone`);
      return;
    }
    if (!first.metadata?.deletionTimestamp) await this.deleteNamespace(name, signal);
    log(`namespace ${name} deletion requested`);
    const deadline = Date.now() + this.o.destroyTimeoutSeconds * this.secondMs;
    let lastConditions = '';
    for (;;) {
      const ns = await this.readNamespace(name, signal);
      if (!ns) {
        log(`namespace ${name} deleted`);
        return;
      }
      const conditions = (ns.status?.conditions ?? [])
        .filter((c) => c.status === 'True')
        .map((c) => `${c.type}: ${c.message ?? c.reason ?? ''}`.trim())
        .join('; ');
      if (conditions && conditions !== lastConditions) log(`namespace ${name} is ${ns.status?.phase ?? 'Terminating'}: ${conditions}`);
      lastConditions = conditions || lastConditions;
      if (Date.now() >= deadline) {
        throw new ProvisionError(
          `namespace ${name} is still ${ns.status?.phase ?? 'Terminating'} after ${this.o.destroyTimeoutSeconds} s${lastConditions ? `: ${lastConditions}` : ''}`,
          false,
        );
      }
      await sleep(Math.min(this.pollMs, Math.max(0, deadline - Date.now())), undefined, { signal });
    }
  }

  async ownedNamespaces(signal: AbortSignal): Promise<OwnedNamespace[]> {
    const list = await kubeCall(() => this.o.api.core.listNamespace({ labelSelector: instanceSelector(this.o.instance) }), {
      signal,
      what: 'listing namespaces',
    });
    return list.items.map((ns) => {
      const id = Number(ns.metadata?.labels?.[LABELS.environment]);
      return {
        namespace: ns.metadata!.name!,
        environmentId: Number.isInteger(id) && id > 0 ? id : null,
        terminating: Boolean(ns.metadata?.deletionTimestamp),
      };
    });
  }

  async deleteNamespace(name: string, signal: AbortSignal): Promise<void> {
    await kubeCall(
      async () => {
        try {
          await this.o.api.core.deleteNamespace({ name });
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      },
      { signal, what: `deleting namespace ${name}` },
    );
  }
}
