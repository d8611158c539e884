import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { PatchStrategy, setHeaderOptions, type KubernetesObject, type V1Deployment, type V1Namespace, type V1Secret } from '@kubernetes/client-node';
import { branchSlug, jobRunName, type AddonType, type JobWhen, type PreviewConfig } from '@ephemera/schema';
import type { PreviewConfigSource } from '../preview-config-source.js';
import { ProvisionError, type LogSink, type OwnedNamespace, type ProvisionResult, type ProvisionTarget, type Provisioner } from '../provisioner.js';
import { isAlreadyExists, isNotFound, kubeCall, kubeRead, type KubeApi } from './kube-api.js';
import { waitForJob, waitForStatefulSets } from './workload-waits.js';

/** Lines of a job run's log kept in the deployment's logs. */
const JOB_LOG_TAIL_LINES = 200;
import { checkKubernetesAccess, checkKubernetesIdentity, type AccessCheckResult, type SecretRef } from './access-check.js';
import { bindPreviewRole, previewRoleBinding } from './preview-role-binding.js';
import { DEFAULT_ADDON_IMAGES, PREVIEW_FENCE_DEFAULTS, previewTlsMode, type PreviewGatewaySettings, type PreviewTlsMode } from '../../config.js';
import { checkImages } from './image-policy.js';
import {
  LABELS,
  MANAGED_BY,
  PRUNABLE_KINDS,
  addonClaimName,
  addonSecret,
  copiedSecret,
  environmentSelector,
  instanceSelector,
  ownerLabels,
  jobManifest,
  previewManifests,
  type PreviewClusterSettings,
  type PreviewManifestInput,
} from './preview-manifests.js';
import { EMPTY_SET, appliedSetOf, droppedObjects, keyOf, readAppliedSet, sameSet, unionOf, withAppliedSet, type AppliedSet } from './applied-set.js';
import { ROLLOUT_GRACE_SECONDS, waitForRollout } from './rollout-waiter.js';
import { checkGateway, waitForRoute } from './route-waiter.js';

export type { SecretRef } from './access-check.js';

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
  /** PREVIEW_ROUTING=gateway: the Gateway previews' HTTPRoutes attach to; undefined: an Ingress each. */
  gateway?: PreviewGatewaySettings | undefined;
  tlsSecret: SecretRef | undefined;
  imagePullSecret: SecretRef | undefined;
  /** PREVIEW_IMAGE_PULL_SECRET_REGISTRIES: registry hosts whose pods get the pull secret (default: every pod). */
  imagePullSecretRegistries?: readonly string[] | undefined;
  /** PREVIEW_IMAGE_ALLOWED: image patterns previews may run (default: any). */
  imageAllowed?: readonly string[];
  /** PREVIEW_TLS_MODE (default from tlsSecret and urlScheme, as the worker's configuration resolves it). */
  tlsMode?: PreviewTlsMode;
  /** PREVIEW_TLS_ISSUER, for tlsMode `cert-manager`. */
  tlsIssuer?: string | undefined;
  /** PREVIEW_POD_SECURITY (default `restricted`). */
  podSecurity?: 'restricted' | 'baseline';
  /** PREVIEW_EGRESS_DENY_CIDRS and PREVIEW_EGRESS_ALLOW_CIDRS (defaults in config.ts). */
  egressDenyCidrs?: readonly string[];
  egressAllowCidrs?: readonly string[];
  /** PREVIEW_DEFAULT_EPHEMERAL_STORAGE and PREVIEW_QUOTA_EPHEMERAL_STORAGE (defaults in config.ts). */
  defaultEphemeralStorage?: string;
  quotaEphemeralStorage?: string;
  /** PREVIEW_QUOTA_STORAGE, PREVIEW_STORAGE_CLASS and PREVIEW_ADDON_IMAGES (defaults in config.ts). */
  quotaStorage?: string;
  storageClass?: string | undefined;
  addonImages?: Readonly<Record<AddonType, string>>;
  secretsNamespace: string | undefined;
  secretsAllowed: readonly string[];
  /** EPHEMERA_KUBE_SUBJECT: the worker's username, when SelfSubjectReview cannot tell it. */
  kubeSubject?: string | undefined;
  destroyTimeoutSeconds: number;
  /** Where pull requests are shown (https://github.com, or a GitHub Enterprise Server). */
  githubWebUrl: string;
  /** How often a rollout or a deletion is checked. */
  pollIntervalMs?: number;
  /** Lines of a failing container's log kept in the error. */
  logTailLines?: number;
  /** How long one configured second lasts (timeouts); tests shorten it. */
  secondMs?: number;
  /** PREVIEW_CRASH_RESTARTS: restarts of a current pod's container before a crash loop fails the rollout (default 3). */
  crashRestarts?: number;
  /** KUBE_RESYNC_SECONDS: how often a rollout's Deployments are listed again besides being watched (default 60). */
  resyncSeconds?: number;
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
  private readonly tlsMode: PreviewTlsMode;
  private username: Promise<string> | undefined;

  constructor(private readonly o: KubernetesProvisionerOptions) {
    this.tlsMode = previewTlsMode({ PREVIEW_TLS_MODE: o.tlsMode, PREVIEW_TLS_SECRET: o.tlsSecret, PREVIEW_TLS_ISSUER: o.tlsIssuer, PREVIEW_URL_SCHEME: o.urlScheme });
    this.pollMs = o.pollIntervalMs ?? 2_000;
    this.tailLines = o.logTailLines ?? 20;
    this.secondMs = o.secondMs ?? 1_000;
  }

  /**
   * Checks at start that the API answers and grants the worker every right the provisioner uses (see
   * checkKubernetesAccess), so a missing one stops the worker with its name instead of failing the first preview.
   * Learns the worker's identity on the way, which each preview namespace's RoleBinding names.
   */
  async checkAccess(signal: AbortSignal = new AbortController().signal): Promise<AccessCheckResult> {
    const result = await checkKubernetesAccess(this.o.api, { subject: this.o.kubeSubject, sourceSecrets: this.sourceSecrets(), gateway: this.o.gateway, signal });
    this.username ??= Promise.resolve(result.username);
    return result;
  }

  /** Every Secret the provisioner may copy into a preview: the worker needs `get` on each, and on nothing else. */
  sourceSecrets(): SecretRef[] {
    const refs: SecretRef[] = [];
    if (this.o.tlsSecret && this.tlsMode === 'copy') refs.push(this.o.tlsSecret);
    if (this.o.imagePullSecret) refs.push(this.o.imagePullSecret);
    if (this.o.secretsNamespace) for (const name of this.o.secretsAllowed) refs.push({ namespace: this.o.secretsNamespace, name });
    return refs.filter((r, i) => refs.findIndex((x) => x.namespace === r.namespace && x.name === r.name) === i);
  }

  /** The username preview RoleBindings name: EPHEMERA_KUBE_SUBJECT, or the API server's answer, asked once. */
  private whoAmI(signal: AbortSignal): Promise<string> {
    if (this.o.kubeSubject) return Promise.resolve(this.o.kubeSubject);
    this.username ??= checkKubernetesIdentity(this.o.api, signal).catch((err: unknown) => {
      this.username = undefined;
      throw new ProvisionError((err as Error).message, true);
    });
    return this.username;
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
    const manifestInput: PreviewManifestInput = {
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
      settings: this.clusterSettings(),
    };
    const manifests = previewManifests(manifestInput);
    // An image outside PREVIEW_IMAGE_ALLOWED, a service's or a job's, fails the deployment before anything is applied
    // (each job is rendered here under its own name, as its runs will be).
    const jobRuns = Object.entries(config.jobs ?? {}).map(([name, job]) => jobManifest(manifestInput, name, job, name));
    checkImages([...manifests, ...jobRuns], this.o.imageAllowed ?? []);
    if (this.o.gateway) await checkGateway(this.o.api, this.o.gateway, signal);

    const live = await this.claimNamespace(target, log, signal);
    // A namespace made now holds nothing to prune; one without a record (an earlier version's) is listed.
    const previous = live ? readAppliedSet(live) : EMPTY_SET;
    const [namespace, ...rest] = manifests;
    const secrets = await this.secretCopies(config, target, signal);
    const desired = [...rest.slice(0, 3), ...secrets, ...rest.slice(3)];
    const addons = Object.entries(config.addons ?? {});
    // Each add-on's Secret is made once, with its password, and its claim by its StatefulSet: both are recorded so
    // that removing the add-on from the file removes them, but neither is ever applied.
    const credentials = addons.map(([name, addon]) =>
      addonSecret(name, addon, target.namespace, target.environmentId, this.o.instance, randomBytes(24).toString('hex')),
    );
    const claims = addons.map(([name]) => ({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: addonClaimName(name) } }));
    const recorded = [...desired, ...credentials, ...claims];
    const next = appliedSetOf(recorded);
    // Until what the new configuration dropped is pruned, the namespace records both sets.
    await this.applyObject(withAppliedSet(namespace!, unionOf(next, previous)), signal);
    log(`namespace ${target.namespace} applied`);
    // Everything else in the namespace is written through this binding: the worker holds no such right elsewhere.
    const binding = previewRoleBinding(target.namespace, ownerLabels(target.environmentId, this.o.instance), await this.whoAmI(signal));
    if (await bindPreviewRole({ api: this.o.api, binding, signal, settleMs: 30 * this.secondMs, pollMs: this.pollMs })) log(`RoleBinding ${binding.metadata!.name} created`);
    for (const secret of credentials) {
      if (await this.createOnce(secret, signal)) log(`Secret/${secret.metadata!.name} created`);
    }
    // The services roll last: until then (add-ons ready, jobs run) the previous version keeps serving.
    const rolled = (o: KubernetesObject) => o.kind === 'Deployment' || o.kind === 'Ingress' || o.kind === 'HTTPRoute';
    const first = desired.filter((o) => !rolled(o));
    for (const obj of first) await this.applyObject(obj, signal);
    log(`applied ${first.map((o) => `${o.kind}/${o.metadata!.name}`).join(', ')}`);
    if (addons.length > 0) {
      await waitForStatefulSets(
        addons.map(([name]) => name),
        { api: this.o.api, namespace: target.namespace, log, signal, pollMs: this.pollMs, deadline: Date.now() + config.timeout_seconds * this.secondMs, timeoutSeconds: config.timeout_seconds },
      );
    }
    await this.runJobs('before_deploy', config, manifestInput, target, log, signal);
    const last = desired.filter(rolled);
    for (const obj of last) {
      if (obj.kind === 'Deployment') await this.dropRemovedProbes(obj as V1Deployment, previous, signal);
      await this.applyObject(obj, signal);
    }
    log(`applied ${last.map((o) => `${o.kind}/${o.metadata!.name}`).join(', ')}`);
    await this.prune(target, recorded, previous, log, signal);
    // Pruned: the record is the new set alone.
    if (!sameSet(next, unionOf(next, previous))) await this.applyObject(withAppliedSet(namespace!, next), signal);

    // The route's verdict is awaited after the rollout, within the rollout's own deadline.
    const routeDeadline = Date.now() + (config.timeout_seconds + ROLLOUT_GRACE_SECONDS) * this.secondMs;
    await waitForRollout(
      { api: this.o.api, namespace: target.namespace, selector: environmentSelector(target.environmentId, this.o.instance), services: Object.keys(config.services), timeoutSeconds: config.timeout_seconds, log, signal },
      { secondMs: this.secondMs, crashRestarts: this.o.crashRestarts ?? 3, resyncSeconds: this.o.resyncSeconds ?? 60, tailLines: this.tailLines },
    );
    if (this.o.gateway) {
      await waitForRoute({ api: this.o.api, namespace: target.namespace, gateway: this.o.gateway, deadline: routeDeadline, timeoutSeconds: config.timeout_seconds, pollMs: this.pollMs, log, signal });
    }
    log(`rollout complete; serving at ${url}`);
    // Once per environment, after its first successful rollout; until they succeed, every deploy runs them.
    const afterCreate = !target.afterCreateSucceeded && Object.values(config.jobs ?? {}).some((j) => j.when === 'after_create');
    if (afterCreate) await this.runJobs('after_create', config, manifestInput, target, log, signal);
    return afterCreate ? { url, afterCreateRan: true } : { url };
  }

  /**
   * Runs the configuration's jobs of one kind, in file order, each to its end: a Job per run, named by the
   * deployment, whose log's end goes into the deployment's logs. A failed `before_deploy` job fails the deployment
   * before any service rolled, so the previous version keeps serving; a failed `after_create` job fails it too, and
   * the next deploy runs the `after_create` jobs again.
   */
  private async runJobs(when: JobWhen, config: PreviewConfig, input: PreviewManifestInput, target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<void> {
    const jobs = Object.entries(config.jobs ?? {}).filter(([, j]) => j.when === when);
    if (jobs.length === 0) return;
    if (target.deploymentId === undefined) throw new ProvisionError('job runs are named by their deployment, and this deploy has none', false);
    for (const [name, job] of jobs) {
      const run = jobManifest(input, name, job, jobRunName(name, target.commitSha, target.deploymentId));
      const runName = run.metadata!.name!;
      await kubeCall(
        async () => {
          try {
            await this.o.api.batch.createNamespacedJob({ namespace: target.namespace, body: run, fieldManager: FIELD_MANAGER });
          } catch (err) {
            // A retried deploy finds its run already made: it is waited for, not run twice.
            if (!isAlreadyExists(err)) throw err;
          }
        },
        { signal, what: `creating Job ${runName}` },
      );
      log(`job ${name} (${when}): Job ${runName} started`);
      const end = await waitForJob(runName, {
        api: this.o.api,
        namespace: target.namespace,
        log,
        signal,
        pollMs: this.pollMs,
        // Its activeDeadlineSeconds ends it first; this allows for the pod's start and the controller's report.
        deadline: Date.now() + (job.timeout_seconds + 60) * this.secondMs,
        tailLines: JOB_LOG_TAIL_LINES,
      });
      if (end.log.length > 0) log(`job ${name} log (last ${end.log.length} lines):\n${end.log.join('\n')}`);
      if (!end.ok) {
        const cause = end.exitCode !== undefined ? `exit code ${end.exitCode}` : end.reason === 'DeadlineExceeded' ? `not finished after ${job.timeout_seconds} s` : end.reason;
        throw new ProvisionError(`job ${name} failed: ${cause}`, false, [], when === 'before_deploy');
      }
      log(`job ${name} succeeded`);
    }
  }

  /** The operator's settings every preview gets, with the defaults of config.ts for options left out. */
  private clusterSettings(): PreviewClusterSettings {
    const o = this.o;
    return {
      instance: o.instance,
      quota: o.quota,
      defaults: o.defaults,
      ephemeralStorage: {
        default: o.defaultEphemeralStorage ?? PREVIEW_FENCE_DEFAULTS.defaultEphemeralStorage,
        quota: o.quotaEphemeralStorage ?? PREVIEW_FENCE_DEFAULTS.quotaEphemeralStorage,
      },
      quotaStorage: o.quotaStorage ?? PREVIEW_FENCE_DEFAULTS.quotaStorage,
      storageClass: o.storageClass,
      addonImages: o.addonImages ?? DEFAULT_ADDON_IMAGES,
      podSecurity: o.podSecurity ?? PREVIEW_FENCE_DEFAULTS.podSecurity,
      routing: o.gateway
        ? { mode: 'gateway', gateway: o.gateway }
        : { mode: 'ingress', namespace: o.ingressNamespace, className: o.ingressClass, tls: { mode: this.tlsMode, secretName: o.tlsSecret?.name, issuer: o.tlsIssuer } },
      egress: { denyCidrs: o.egressDenyCidrs ?? PREVIEW_FENCE_DEFAULTS.egressDenyCidrs, allowCidrs: o.egressAllowCidrs ?? PREVIEW_FENCE_DEFAULTS.egressAllowCidrs },
      imagePullSecretName: o.imagePullSecret?.name,
      imagePullSecretRegistries: o.imagePullSecretRegistries,
    };
  }

  /** secret_env only for pull requests from the repository itself, and only Secrets the operator allows. */
  private checkSecrets(config: PreviewConfig, target: ProvisionTarget): void {
    const wanted = [...Object.entries(config.services), ...Object.entries(config.jobs ?? {})].flatMap(([svc, s]) => s.secret_env.map((e) => ({ svc, ...e })));
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
    for (const s of [...Object.values(config.services), ...Object.values(config.jobs ?? {})]) {
      for (const e of s.secret_env) add({ namespace: this.o.secretsNamespace!, name: e.secret }, [e.key]);
    }
    if (this.o.imagePullSecret) add(this.o.imagePullSecret);
    // Only PREVIEW_TLS_MODE=copy copies the certificate's key into the preview.
    if (this.o.tlsSecret && this.tlsMode === 'copy') add(this.o.tlsSecret);
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
   * without a port, which the server refuses. The namespace's record says which Deployments had one; without a
   * record (a namespace of an earlier version), the live Deployment is read.
   */
  private async dropRemovedProbes(desired: V1Deployment, previous: AppliedSet | null, signal: AbortSignal): Promise<void> {
    const name = desired.metadata!.name!;
    const namespace = desired.metadata!.namespace!;
    const wanted = new Map(desired.spec!.template.spec!.containers.map((c) => [c.name, c] as const));
    if (previous && (!previous.probes.includes(name) || [...wanted.values()].every((c) => c.readinessProbe))) return;
    const live = await kubeRead(() => this.o.api.apps.readNamespacedDeployment({ name, namespace }), { signal, what: `reading Deployment ${name}` });
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

  /** Creates an object unless it exists (409: kept as it is, never changed); true when it was created. */
  private async createOnce(obj: V1Secret, signal: AbortSignal): Promise<boolean> {
    return kubeCall(
      async () => {
        try {
          await this.o.api.core.createNamespacedSecret({ namespace: obj.metadata!.namespace!, body: obj, fieldManager: FIELD_MANAGER });
          return true;
        } catch (err) {
          if (isAlreadyExists(err)) return false;
          throw err;
        }
      },
      { signal, what: `creating Secret ${obj.metadata!.name}` },
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
  private async claimNamespace(target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<V1Namespace | null> {
    const deadline = Date.now() + this.o.destroyTimeoutSeconds * this.secondMs;
    let said = false;
    for (;;) {
      const ns = await this.readNamespace(target.namespace, signal);
      if (!ns) return null;
      const labels = ns.metadata?.labels ?? {};
      if (labels[LABELS.managedBy] !== MANAGED_BY || labels[LABELS.instance] !== this.o.instance || labels[LABELS.environment] !== String(target.environmentId)) {
        throw new ProvisionError(`namespace ${target.namespace} exists and does not belong to this environment (labels ${LABELS.instance}, ${LABELS.environment}); it is left alone`, false);
      }
      if (!ns.metadata?.deletionTimestamp) return ns;
      if (!said) log(`namespace ${target.namespace} is still being deleted; waiting for it to go`);
      said = true;
      if (Date.now() > deadline) throw new ProvisionError(`namespace ${target.namespace} is still being deleted after ${this.o.destroyTimeoutSeconds} s`, true);
      await sleep(this.pollMs, undefined, { signal });
    }
  }

  private readNamespace(name: string, signal: AbortSignal): Promise<V1Namespace | null> {
    return kubeRead(() => this.o.api.core.readNamespace({ name }), { signal, what: `reading namespace ${name}` });
  }

  /**
   * Deletes the environment's objects that the applied set no longer has (a service removed from the file): those the
   * namespace's record names, or, without a record, those a list of each kind finds by the environment's labels.
   */
  private async prune(target: ProvisionTarget, desired: readonly KubernetesObject[], previous: AppliedSet | null, log: LogSink, signal: AbortSignal): Promise<void> {
    const keep = new Set(desired.map(keyOf));
    let dropped: Array<{ apiVersion: string; kind: string; name: string }>;
    if (previous) {
      dropped = droppedObjects(previous, appliedSetOf(desired));
    } else {
      const selector = environmentSelector(target.environmentId, this.o.instance);
      dropped = [];
      // Secrets are never listed (the worker may not): the copies are the ones the listed objects refer to.
      const secrets = new Set<string>();
      for (const { apiVersion, kind } of PRUNABLE_KINDS.filter((k) => k.kind !== 'Secret' && !k.recordedOnly)) {
        const list = await kubeCall(() => this.o.api.objects.list(apiVersion, kind, target.namespace, undefined, undefined, undefined, undefined, selector), {
          signal,
          what: `listing ${kind}s`,
        });
        for (const item of list.items) {
          for (const name of secretsReferredBy(item)) secrets.add(name);
          if (item.metadata?.name && !keep.has(`${kind}/${item.metadata.name}`)) dropped.push({ apiVersion, kind, name: item.metadata.name });
        }
      }
      for (const name of secrets) if (!keep.has(`Secret/${name}`)) dropped.push({ apiVersion: 'v1', kind: 'Secret', name });
    }
    // A claim goes after its StatefulSet, whose pod holds it.
    dropped.sort((a, b) => Number(a.kind === 'PersistentVolumeClaim') - Number(b.kind === 'PersistentVolumeClaim'));
    for (const { apiVersion, kind, name } of dropped) {
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

  /** DESTROY_TIMEOUT_SECONDS, and on the provisioner's clock. */
  get destroyTimeout(): { seconds: number; ms: number } {
    return { seconds: this.o.destroyTimeoutSeconds, ms: this.o.destroyTimeoutSeconds * this.secondMs };
  }

  /**
   * Deletes the namespace (and with it everything in it) and looks once: `gone`, or `terminating` for the teardown
   * sweep to follow (a namespace may take minutes, held up by finalizers). A namespace that is already gone is gone;
   * one this installation does not own is left alone.
   */
  async destroy(target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<'gone' | 'terminating'> {
    const name = target.namespace;
    const first = await this.readNamespace(name, signal);
    if (!first) {
      log(`namespace ${name} is already gone`);
      return 'gone';
    }
    const labels = first.metadata?.labels ?? {};
    if (labels[LABELS.managedBy] !== MANAGED_BY || labels[LABELS.instance] !== this.o.instance) {
      log(`namespace ${name} is not this installation's (labels ${LABELS.managedBy}, ${LABELS.instance}); left alone`);
      return 'gone';
    }
    if (!first.metadata?.deletionTimestamp) await this.deleteNamespace(name, signal);
    log(`namespace ${name} deletion requested`);
    const ns = await this.readNamespace(name, signal);
    if (!ns) {
      log(`namespace ${name} deleted`);
      return 'gone';
    }
    const conditions = conditionsOf(ns);
    log(`namespace ${name} is ${ns.status?.phase ?? 'Terminating'}${conditions ? `: ${conditions}` : ''}; the teardown sweep follows it`);
    return 'terminating';
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
        conditions: conditionsOf(ns),
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

/** The Secrets an object of the preview names: a Deployment's secret_env and pull secret, an Ingress's certificate. */
function secretsReferredBy(obj: KubernetesObject): string[] {
  const spec = (obj as { spec?: Record<string, unknown> }).spec;
  if (obj.kind === 'Ingress') return ((spec?.tls ?? []) as Array<{ secretName?: string }>).flatMap((t) => (t.secretName ? [t.secretName] : []));
  if (obj.kind !== 'Deployment') return [];
  const pod = (obj as V1Deployment).spec?.template.spec;
  const names = (pod?.imagePullSecrets ?? []).map((s) => s.name);
  for (const c of [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])]) {
    for (const e of c.env ?? []) names.push(e.valueFrom?.secretKeyRef?.name);
    for (const f of c.envFrom ?? []) names.push(f.secretRef?.name);
  }
  return names.filter((n): n is string => Boolean(n));
}

/** A namespace's conditions that hold, one line (what holds up its deletion: finalizers, content left). */
function conditionsOf(ns: V1Namespace): string {
  return (ns.status?.conditions ?? [])
    .filter((c) => c.status === 'True')
    .map((c) => `${c.type}: ${c.message ?? c.reason ?? ''}`.trim())
    .join('; ');
}
