import { randomBytes } from 'node:crypto';
import type { KubernetesObject, V1Deployment, V1Secret } from '@kubernetes/client-node';
import { branchSlug, type PreviewConfig } from '@ephemera/schema';
import { githubWebUrl } from '../../config.js';
import { ProvisionError, type LogSink, type ProvisionResult, type ProvisionTarget } from '../provisioner.js';
import { EMPTY_SET, appliedSetOf, readAppliedSet, sameSet, unionOf, withAppliedSet, type AppliedSet } from './applied-set.js';
import { checkImages } from './image-policy.js';
import { runJobs } from './job-runs.js';
import { addonClaimName, addonSecret } from './preview-addons.js';
import { applyObject, createSecretOnce, dropRemovedProbes } from './preview-apply.js';
import { jobManifest } from './preview-job.js';
import { environmentSelector, ownerLabels } from './preview-labels.js';
import type { PreviewManifestInput } from './preview-manifest-input.js';
import { previewManifests } from './preview-manifests.js';
import { claimNamespace } from './preview-namespace.js';
import { prune } from './preview-prune.js';
import { bindPreviewRole, previewRoleBinding } from './preview-role-binding.js';
import { checkSecrets, secretCopies } from './preview-secrets.js';
import type { ProvisionerContext } from './provisioner-context.js';
import { ROLLOUT_GRACE_SECONDS, waitForRollout } from './rollout-waiter.js';
import { checkGateway, waitForRoute } from './route-waiter.js';
import { waitForStatefulSets } from './workload-waits.js';

/** Lines of a failing container's log kept in the deployment's logs. */
const ROLLOUT_LOG_TAIL_LINES = 20;

/** What one deploy applies, beside the namespace that records it. */
interface ApplyPlan {
  namespace: KubernetesObject;
  /** Applied whole each time: the fences, the copied Secrets, the add-ons, the services and the route, in that order. */
  desired: KubernetesObject[];
  /** The add-ons' Secrets, created once. */
  credentials: V1Secret[];
  /** What the namespace's record names: the applied objects, the add-ons' Secrets and their claims. */
  recorded: KubernetesObject[];
}

/**
 * A provision and an update alike: the configuration is read and checked, the objects rendered, then applied in
 * turn (namespace, fences and add-ons, `before_deploy` jobs, the services last), what the configuration dropped
 * pruned, and the rollout awaited; `after_create` jobs run after the first successful one.
 */
export async function deployPreview(ctx: ProvisionerContext, target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<ProvisionResult> {
  const config = await loadPreviewConfig(ctx, target, log);
  checkSecrets(ctx, config, target);
  const { input, url } = previewInput(ctx, target, config);
  const manifests = previewManifests(input);
  // An image outside PREVIEW_IMAGE_ALLOWED, a service's or a job's, fails the deployment before anything is applied
  // (each job is rendered here under its own name, as its runs will be).
  const jobRuns = Object.entries(config.jobs ?? {}).map(([name, job]) => jobManifest(input, name, job, name));
  checkImages([...manifests, ...jobRuns], ctx.settings.PREVIEW_IMAGE_ALLOWED);
  if (ctx.gateway) await checkGateway(ctx.api, ctx.gateway, signal);

  const live = await claimNamespace(ctx, target, log, signal);
  // A namespace made now holds nothing to prune; one without a record (an earlier version's) is listed.
  const previous = live ? readAppliedSet(live) : EMPTY_SET;
  const plan = applyPlan(ctx, input, manifests, await secretCopies(ctx, config, target, signal));
  await applyInTurn(ctx, plan, previous, input, target, log, signal);
  await awaitRollout(ctx, config, target, log, signal);
  log(`rollout complete; serving at ${url}`);
  // Once per environment, after its first successful rollout; until they succeed, every deploy runs them.
  const afterCreate = !target.afterCreateSucceeded && Object.values(config.jobs ?? {}).some((j) => j.when === 'after_create');
  if (afterCreate) await runJobs(ctx, 'after_create', input, target, log, signal);
  return afterCreate ? { url, afterCreateRan: true } : { url };
}

/** The target's configuration: the one the deploy gate read, or the file at the target's configuration commit. */
async function loadPreviewConfig(ctx: ProvisionerContext, target: ProvisionTarget, log: LogSink): Promise<PreviewConfig> {
  if (target.configSha === null) {
    throw new ProvisionError('the pull request\'s base commit is not known yet, so its configuration cannot be read; push a commit or reopen the pull request', false);
  }
  const { file, config } =
    target.config ??
    (await ctx.configs.load({
      installationId: target.installationId,
      repositoryFullName: target.repositoryFullName,
      sha: target.configSha,
      fromFork: target.fromFork,
    }));
  log(`configuration: ${file} at ${target.configSha.slice(0, 7)}; services ${Object.keys(config.services).join(', ')}`);
  return config;
}

/** What the target's objects are rendered from, and the URL the preview is served at. */
function previewInput(ctx: ProvisionerContext, target: ProvisionTarget, config: PreviewConfig): { input: PreviewManifestInput; url: string } {
  const host = `${target.namespace}.${ctx.settings.PREVIEW_BASE_DOMAIN}`;
  const url = `${ctx.settings.PREVIEW_URL_SCHEME}://${host}`;
  const input: PreviewManifestInput = {
    namespace: target.namespace,
    environmentId: target.environmentId,
    prNumber: target.prNumber,
    repositoryFullName: target.repositoryFullName,
    pullRequestUrl: `${githubWebUrl(ctx.settings.GITHUB_API_URL)}/${target.repositoryFullName}/pull/${target.prNumber}`,
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
    settings: ctx.settings,
  };
  return { input, url };
}

function applyPlan(ctx: ProvisionerContext, input: PreviewManifestInput, manifests: KubernetesObject[], secrets: KubernetesObject[]): ApplyPlan {
  const [namespace, ...rest] = manifests;
  // The copies go after the fences (quota, limits, network policy), before anything that uses them.
  const desired = [...rest.slice(0, 3), ...secrets, ...rest.slice(3)];
  const addons = Object.entries(input.config.addons ?? {});
  // Each add-on's Secret is made once, with its password, and its claim by its StatefulSet: both are recorded so
  // that removing the add-on from the file removes them, but neither is ever applied.
  const credentials = addons.map(([name, addon]) =>
    addonSecret(name, addon, input.namespace, input.environmentId, ctx.settings.EPHEMERA_INSTANCE, randomBytes(24).toString('hex')),
  );
  const claims = addons.map(([name]) => ({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: addonClaimName(name) } }));
  return { namespace: namespace!, desired, credentials, recorded: [...desired, ...credentials, ...claims] };
}

/** The services roll last: until then (add-ons ready, jobs run) the previous version keeps serving. */
const rolledLast = (o: KubernetesObject) => o.kind === 'Deployment' || o.kind === 'Ingress' || o.kind === 'HTTPRoute';

async function applyInTurn(
  ctx: ProvisionerContext,
  plan: ApplyPlan,
  previous: AppliedSet | null,
  input: PreviewManifestInput,
  target: ProvisionTarget,
  log: LogSink,
  signal: AbortSignal,
): Promise<void> {
  const { api, clock, settings } = ctx;
  const next = appliedSetOf(plan.recorded);
  // Until what the new configuration dropped is pruned, the namespace records both sets.
  await applyObject(api, withAppliedSet(plan.namespace, unionOf(next, previous)), signal);
  log(`namespace ${target.namespace} applied`);
  // Everything else in the namespace is written through this binding: the worker holds no such right elsewhere.
  const binding = previewRoleBinding(target.namespace, ownerLabels(target.environmentId, settings.EPHEMERA_INSTANCE), await ctx.whoAmI(signal));
  if (await bindPreviewRole({ api, binding, signal, settleMs: 30 * clock.secondMs, pollMs: clock.pollMs })) log(`RoleBinding ${binding.metadata!.name} created`);
  for (const secret of plan.credentials) {
    if (await createSecretOnce(api, secret, signal)) log(`Secret/${secret.metadata!.name} created`);
  }
  const first = plan.desired.filter((o) => !rolledLast(o));
  for (const obj of first) await applyObject(api, obj, signal);
  log(`applied ${first.map((o) => `${o.kind}/${o.metadata!.name}`).join(', ')}`);
  const addons = Object.keys(input.config.addons ?? {});
  if (addons.length > 0) {
    const timeoutSeconds = input.config.timeout_seconds;
    await waitForStatefulSets(addons, { api, namespace: target.namespace, log, signal, pollMs: clock.pollMs, deadline: Date.now() + timeoutSeconds * clock.secondMs, timeoutSeconds });
  }
  await runJobs(ctx, 'before_deploy', input, target, log, signal);
  const last = plan.desired.filter(rolledLast);
  for (const obj of last) {
    if (obj.kind === 'Deployment') await dropRemovedProbes(api, obj as V1Deployment, previous, signal);
    await applyObject(api, obj, signal);
  }
  log(`applied ${last.map((o) => `${o.kind}/${o.metadata!.name}`).join(', ')}`);
  await prune(ctx, target, plan.recorded, previous, log, signal);
  // Pruned: the record is the new set alone.
  if (!sameSet(next, unionOf(next, previous))) await applyObject(api, withAppliedSet(plan.namespace, next), signal);
}

/** Waits for the services' rollout and then, on a Gateway, for the route's verdict. */
async function awaitRollout(ctx: ProvisionerContext, config: PreviewConfig, target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<void> {
  const { api, clock, settings } = ctx;
  const timeoutSeconds = config.timeout_seconds;
  // The route's verdict is awaited after the rollout, within the rollout's own deadline.
  const routeDeadline = Date.now() + (timeoutSeconds + ROLLOUT_GRACE_SECONDS) * clock.secondMs;
  await waitForRollout(
    { api, namespace: target.namespace, selector: environmentSelector(target.environmentId, settings.EPHEMERA_INSTANCE), services: Object.keys(config.services), timeoutSeconds, log, signal },
    { secondMs: clock.secondMs, crashRestarts: settings.PREVIEW_CRASH_RESTARTS, resyncSeconds: settings.KUBE_RESYNC_SECONDS, tailLines: ROLLOUT_LOG_TAIL_LINES },
  );
  if (ctx.gateway) {
    await waitForRoute({ api, namespace: target.namespace, gateway: ctx.gateway, deadline: routeDeadline, timeoutSeconds, pollMs: clock.pollMs, log, signal });
  }
}
