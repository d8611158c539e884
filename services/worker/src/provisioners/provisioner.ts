import type { LoadedConfig } from './preview-config-source.js';

/**
 * What a provisioner drives: one Kubernetes-style namespace per pull request, updated per commit.
 * A Kubernetes driver creates the namespace, applies the app and waits for its rollout (minutes); the `none`
 * driver only pretends, so the lifecycle can be watched without a cluster.
 */
export interface ProvisionTarget {
  environmentId: number;
  namespace: string;
  repositoryFullName: string;
  prNumber: number;
  branchName: string;
  commitSha: string;
  /** Where the preview is expected to be served. */
  environmentUrl: string | null;
  /** The App installation that reads the repository (0: a repository webhook, which has none). */
  installationId: number;
  /** A pull request from a fork: its configuration is the base commit's, and it gets no secrets. */
  fromFork: boolean;
  /** The deployment being rolled out: it names each job run (`<job>-<short sha>-<deployment id>`). */
  deploymentId?: number | undefined;
  /** The commit the configuration is read from (the head commit, or the base commit for a fork); null when unknown. */
  configSha: string | null;
  /** The configuration of `configSha`, when the deploy gate has read it already. */
  config?: LoadedConfig | undefined;
  /**
   * When a redeploy of the environment last asked for its pods to be restarted (as `kubectl rollout restart` does),
   * so a rollout that exceeded its progress deadline rolls again; null when none did.
   */
  restartedAt?: Date | null;
  /**
   * Whether the environment's `after_create` jobs have ever succeeded: they run after a rollout until they have
   * once, so a failed first run is run again by the next push.
   */
  afterCreateSucceeded?: boolean | undefined;
}

/** A namespace the provisioner owns in the cluster, found by its labels. */
export interface OwnedNamespace {
  namespace: string;
  /** From its `ephemera.dev/environment` label; null when the label is not a number. */
  environmentId: number | null;
  terminating: boolean;
  /** Its conditions that hold, while it is being deleted (what holds it up), one line. */
  conditions: string;
}

/** Receives progress lines as work proceeds; they are appended to the deployment's logs. */
export type LogSink = (line: string) => void;

export interface ProvisionResult {
  /** The URL the preview is served at (may differ from the expected one). */
  url: string | null;
  /** The environment's `after_create` jobs ran in this deploy and succeeded: it records so, and they never run again. */
  afterCreateRan?: boolean;
}

export interface Provisioner {
  readonly name: string;
  /** First deployment of an environment: create the namespace and roll out the commit. */
  provision(target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<ProvisionResult>;
  /** A new commit for an existing environment. */
  update(target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<ProvisionResult>;
  /**
   * Asks for everything of the environment to be removed and looks once: `gone` when nothing is left, `terminating`
   * when the removal is under way (a namespace being deleted), which the teardown sweep then watches, so no
   * provisioning slot is held while a namespace takes its time.
   */
  destroy(target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<'gone' | 'terminating'>;
  /** How long a removal may stay under way before the teardown is FAILED: DESTROY_TIMEOUT_SECONDS, and on this clock. */
  readonly destroyTimeout: { seconds: number; ms: number };
  /** The namespaces this installation owns, for the sweeps; null for a provisioner that makes none. */
  ownedNamespaces(signal: AbortSignal): Promise<OwnedNamespace[] | null>;
  /** Asks for a namespace this installation owns to be deleted, without waiting for it to go. */
  deleteNamespace(namespace: string, signal: AbortSignal): Promise<void>;
}

/**
 * A provisioning failure. `transient` ones (API timeouts, conflicts, quota briefly exceeded) are retried with
 * backoff; others fail the environment at once. `events` carries what the cluster said (pod events).
 */
export class ProvisionError extends Error {
  override readonly name = 'ProvisionError';
  constructor(
    message: string,
    readonly transient: boolean,
    readonly events: string[] = [],
    /** Nothing of the new version was rolled out (a failed `before_deploy` job): the previous one keeps serving. */
    readonly previousServing = false,
  ) {
    super(message);
  }
}

/** Thrown into a running step when its deployment was superseded or its environment closed. */
export class StepAbandoned extends Error {
  override readonly name = 'StepAbandoned';
}
