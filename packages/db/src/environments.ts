import {
  IllegalTransitionError,
  environmentPredecessors,
  namespaceFor,
  type EnvironmentStatus,
} from '@ephemera/schema';
import type { Db } from './db-client.js';
import type { Environment } from './generated/prisma/client.js';
import { NotFoundError, asConflict, isRecordNotFound } from './errors.js';

export interface CreateEnvironmentInput {
  /** GitHub's numeric repository id (null only for rows made before it was kept). */
  repositoryId: number | bigint | null;
  repositoryFullName: string;
  prNumber: number;
  prTitle?: string | null;
  branchName: string;
  commitSha: string;
  installationId: number | bigint;
  ownerId?: number | null;
  /** Defaults to {@link namespaceFor}(repositoryFullName, prNumber, repositoryId). */
  namespace?: string;
  /** Where the preview will be served; `https://<namespace>.<domain>` when `previewBaseDomain` is given. */
  environmentUrl?: string | null;
  previewBaseDomain?: string;
  /** The scheme of the expected URL (default https). */
  previewUrlScheme?: 'http' | 'https';
  status?: EnvironmentStatus;
  baseSha?: string | null;
  fromFork?: boolean;
  /** Set when the environment waits for room under the per-repository limit. */
  waitingSince?: Date | null;
}

/**
 * Inserts the environment of a pull request (PENDING unless told otherwise). A second environment for the
 * same repository and PR, or a namespace already taken, is a {@link ConflictError}.
 */
export async function createEnvironment(db: Db, input: CreateEnvironmentInput): Promise<Environment> {
  const namespace = input.namespace ?? namespaceFor(input.repositoryFullName, input.prNumber, input.repositoryId);
  const environmentUrl =
    input.environmentUrl ??
    (input.previewBaseDomain ? `${input.previewUrlScheme ?? 'https'}://${namespace}.${input.previewBaseDomain}` : null);
  try {
    return await db.environment.create({
      data: {
        repositoryId: input.repositoryId === null ? null : BigInt(input.repositoryId),
        repositoryFullName: input.repositoryFullName,
        repositoryName: input.repositoryFullName.slice(input.repositoryFullName.indexOf('/') + 1),
        prNumber: input.prNumber,
        prTitle: input.prTitle ?? null,
        branchName: input.branchName,
        commitSha: input.commitSha,
        namespace,
        environmentUrl,
        status: input.status ?? 'PENDING',
        installationId: BigInt(input.installationId),
        ownerId: input.ownerId ?? null,
        baseSha: input.baseSha ?? null,
        fromFork: input.fromFork ?? false,
        waitingSince: input.waitingSince ?? null,
      },
    });
  } catch (err) {
    throw asConflict(err, `environment for ${input.repositoryFullName}#${input.prNumber}`);
  }
}

export interface StatusChange {
  /** Stored with FAILED; any other status clears the previous error unless one is given. */
  errorMessage?: string | null;
  /** Defaults to now when the environment becomes READY. */
  lastDeployedAt?: Date;
  environmentUrl?: string | null;
  /** The environment's after_create jobs succeeded now (stamped once; a later deploy does not run them again). */
  afterCreateSucceededAt?: Date;
}

/**
 * Moves an environment to `to` if the state machine allows it from its current status. The check and the
 * write are one conditional UPDATE, so a concurrent writer cannot slip an illegal move in between.
 * Throws {@link IllegalTransitionError} (nothing written) or {@link NotFoundError}.
 */
export async function updateEnvironmentStatus(
  db: Db,
  id: number,
  to: EnvironmentStatus,
  change: StatusChange = {},
): Promise<Environment> {
  try {
    return await db.environment.update({
      where: { id, status: { in: environmentPredecessors(to) } },
      data: environmentStatusStamps(to, change, new Date()),
    });
  } catch (err) {
    if (!isRecordNotFound(err)) throw err;
    const current = await db.environment.findUnique({ where: { id }, select: { status: true } });
    if (!current) throw new NotFoundError('environment', id);
    throw new IllegalTransitionError('environment', current.status, to, id);
  }
}

/**
 * What moving an environment to `to` writes besides the status: the one statement of those rules, used by every
 * path that changes a status (Prisma updates here, the batched writes in pull-requests.ts).
 */
export function environmentStatusStamps(to: EnvironmentStatus, change: StatusChange, now: Date) {
  return {
    status: to,
    errorMessage: change.errorMessage ?? null,
    ...(to === 'READY' ? { lastDeployedAt: change.lastDeployedAt ?? now } : {}),
    ...(to === 'DESTROYED' ? { destroyedAt: now } : {}),
    ...(to === 'PENDING' ? { destroyedAt: null } : {}),
    // A teardown stays asked for through a FAILED destroy (the sweep tries again) and ends with any other move.
    ...(to === 'DESTROYING' ? { destroyRequestedAt: now, waitingSince: null } : to === 'FAILED' ? {} : { destroyRequestedAt: null }),
    ...(change.environmentUrl !== undefined ? { environmentUrl: change.environmentUrl } : {}),
    ...(change.afterCreateSucceededAt !== undefined ? { afterCreateSucceededAt: change.afterCreateSucceededAt } : {}),
  };
}
