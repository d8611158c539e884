import type { DeploymentStatus, EnvironmentStatus } from './statuses.js';

/**
 * The one table of allowed environment transitions. Every write path that changes an environment's status
 * checks it (the data layer turns it into a conditional UPDATE), so an illegal move is an error, never a
 * silent write.
 *
 * - PENDING → PROVISIONING → READY is the first deployment; READY → UPDATING → READY every later push.
 * - Anything alive can be torn down (→ DESTROYING → DESTROYED) or fail.
 * - DESTROYED → PENDING is a reopened pull request; FAILED can be retried by a new push, a reopen or cleanup.
 */
export const ENVIRONMENT_TRANSITIONS: Readonly<Record<EnvironmentStatus, readonly EnvironmentStatus[]>> = {
  PENDING: ['PROVISIONING', 'DESTROYING', 'FAILED'],
  PROVISIONING: ['READY', 'FAILED', 'DESTROYING'],
  READY: ['UPDATING', 'DESTROYING', 'FAILED'],
  UPDATING: ['READY', 'FAILED', 'DESTROYING'],
  DESTROYING: ['DESTROYED', 'FAILED'],
  DESTROYED: ['PENDING'],
  FAILED: ['PENDING', 'PROVISIONING', 'UPDATING', 'DESTROYING'],
};

/**
 * Deployment transitions. QUEUED → FAILED covers a deployment superseded by a newer push before it started.
 * WAITING is a deployment whose commit's checks (`deploy.wait_for`) have not all passed: it starts when they pass,
 * and fails when one fails, when it waited too long, or when a newer push supersedes it. SUCCESS and FAILED are final.
 */
const DEPLOYMENT_TRANSITIONS: Readonly<Record<DeploymentStatus, readonly DeploymentStatus[]>> = {
  QUEUED: ['WAITING', 'IN_PROGRESS', 'FAILED'],
  WAITING: ['IN_PROGRESS', 'FAILED'],
  IN_PROGRESS: ['SUCCESS', 'FAILED'],
  SUCCESS: [],
  FAILED: [],
};

export type Entity = 'environment' | 'deployment';

export class IllegalTransitionError extends Error {
  override readonly name = 'IllegalTransitionError';
  constructor(
    readonly entity: Entity,
    readonly from: string,
    readonly to: string,
    readonly id?: number,
  ) {
    super(`illegal ${entity} transition${id === undefined ? '' : ` for ${entity} ${id}`}: ${from} → ${to}`);
  }
}

export function canTransitionEnvironment(from: EnvironmentStatus, to: EnvironmentStatus): boolean {
  return ENVIRONMENT_TRANSITIONS[from].includes(to);
}

export function canTransitionDeployment(from: DeploymentStatus, to: DeploymentStatus): boolean {
  return DEPLOYMENT_TRANSITIONS[from].includes(to);
}

export function assertEnvironmentTransition(from: EnvironmentStatus, to: EnvironmentStatus, id?: number): void {
  if (!canTransitionEnvironment(from, to)) throw new IllegalTransitionError('environment', from, to, id);
}

export function assertDeploymentTransition(from: DeploymentStatus, to: DeploymentStatus, id?: number): void {
  if (!canTransitionDeployment(from, to)) throw new IllegalTransitionError('deployment', from, to, id);
}

/** The statuses an environment may be in for a move to `to` to be legal (used in conditional UPDATEs). */
export function environmentPredecessors(to: EnvironmentStatus): EnvironmentStatus[] {
  return (Object.keys(ENVIRONMENT_TRANSITIONS) as EnvironmentStatus[]).filter((from) =>
    ENVIRONMENT_TRANSITIONS[from].includes(to),
  );
}
