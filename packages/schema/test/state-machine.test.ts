import { describe, expect, it } from '@jest/globals';
import {
  DEPLOYMENT_STATUSES,
  ENVIRONMENT_STATUSES,
  IllegalTransitionError,
  assertDeploymentTransition,
  assertEnvironmentTransition,
  canTransitionDeployment,
  canTransitionEnvironment,
  environmentPredecessors,
  type DeploymentStatus,
  type EnvironmentStatus,
} from '../src/index.js';

// The lifecycle of the design, written out here rather than read from ENVIRONMENT_TRANSITIONS: the functions
// under test read that table, so expectations derived from it would agree with any table.
const ENVIRONMENT_MOVES: ReadonlyArray<readonly [EnvironmentStatus, EnvironmentStatus]> = [
  // The first deployment, and every later push.
  ['PENDING', 'PROVISIONING'],
  ['PROVISIONING', 'READY'],
  ['READY', 'UPDATING'],
  ['UPDATING', 'READY'],
  // Anything alive can be torn down or fail.
  ['PENDING', 'DESTROYING'],
  ['PROVISIONING', 'DESTROYING'],
  ['READY', 'DESTROYING'],
  ['UPDATING', 'DESTROYING'],
  ['PENDING', 'FAILED'],
  ['PROVISIONING', 'FAILED'],
  ['READY', 'FAILED'],
  ['UPDATING', 'FAILED'],
  ['DESTROYING', 'DESTROYED'],
  ['DESTROYING', 'FAILED'],
  // A reopened pull request.
  ['DESTROYED', 'PENDING'],
  // A failed environment retried by a new push, a reopen or the cleanup, or torn down.
  ['FAILED', 'PENDING'],
  ['FAILED', 'PROVISIONING'],
  ['FAILED', 'UPDATING'],
  ['FAILED', 'DESTROYING'],
];

const DEPLOYMENT_MOVES: ReadonlyArray<readonly [DeploymentStatus, DeploymentStatus]> = [
  ['QUEUED', 'IN_PROGRESS'],
  ['IN_PROGRESS', 'SUCCESS'],
  ['IN_PROGRESS', 'FAILED'],
  // Superseded by a newer push before it started.
  ['QUEUED', 'FAILED'],
  // The commit's checks have not passed yet (deploy.wait_for): it waits, then starts, or fails (a check failed, it
  // waited too long, or a newer push superseded it).
  ['QUEUED', 'WAITING'],
  ['WAITING', 'IN_PROGRESS'],
  ['WAITING', 'FAILED'],
];

const listed = <S extends string>(moves: ReadonlyArray<readonly [S, S]>, from: S, to: S) => moves.some(([f, t]) => f === from && t === to);

describe('environment state machine', () => {
  it('walks the lifecycle of the design', () => {
    const path = ['PENDING', 'PROVISIONING', 'READY', 'UPDATING', 'READY', 'DESTROYING', 'DESTROYED', 'PENDING'] as const;
    for (let i = 1; i < path.length; i++) {
      expect(() => assertEnvironmentTransition(path[i - 1]!, path[i]!)).not.toThrow();
    }
  });

  it('allows exactly the moves of the design, and rejects every other pair, self-transitions included', () => {
    for (const from of ENVIRONMENT_STATUSES) {
      for (const to of ENVIRONMENT_STATUSES) {
        const allowed = listed(ENVIRONMENT_MOVES, from, to);
        expect(`${from} → ${to}: ${canTransitionEnvironment(from, to)}`).toBe(`${from} → ${to}: ${allowed}`);
        if (allowed) expect(() => assertEnvironmentTransition(from, to, 7)).not.toThrow();
        else expect(() => assertEnvironmentTransition(from, to, 7)).toThrow(IllegalTransitionError);
      }
    }
  });

  it('does not resurrect a destroyed environment except through PENDING', () => {
    for (const to of ['PROVISIONING', 'READY', 'UPDATING', 'DESTROYING', 'FAILED'] as const) {
      expect(canTransitionEnvironment('DESTROYED', to)).toBe(false);
    }
  });

  it('names entity, statuses and id in the error', () => {
    expect(() => assertEnvironmentTransition('DESTROYED', 'READY', 42)).toThrow(
      'illegal environment transition for environment 42: DESTROYED → READY',
    );
    const err = new IllegalTransitionError('deployment', 'SUCCESS', 'QUEUED');
    expect(err).toMatchObject({ name: 'IllegalTransitionError', entity: 'deployment', from: 'SUCCESS', to: 'QUEUED', message: 'illegal deployment transition: SUCCESS → QUEUED' });
    expect(() => assertDeploymentTransition('SUCCESS', 'QUEUED', 7)).toThrow(new IllegalTransitionError('deployment', 'SUCCESS', 'QUEUED', 7));
    expect(() => assertDeploymentTransition('SUCCESS', 'QUEUED', 7)).toThrow('illegal deployment transition for deployment 7: SUCCESS → QUEUED');
  });

  it('gives as predecessors of each status exactly the statuses the design moves from to it', () => {
    for (const to of ENVIRONMENT_STATUSES) {
      const expected = ENVIRONMENT_MOVES.filter(([, t]) => t === to).map(([from]) => from);
      expect([to, [...environmentPredecessors(to)].sort()]).toEqual([to, [...expected].sort()]);
    }
  });
});

describe('deployment state machine', () => {
  it('allows QUEUED → IN_PROGRESS → SUCCESS | FAILED and QUEUED → FAILED (superseded)', () => {
    expect(() => assertDeploymentTransition('QUEUED', 'IN_PROGRESS')).not.toThrow();
    expect(() => assertDeploymentTransition('IN_PROGRESS', 'SUCCESS')).not.toThrow();
    expect(() => assertDeploymentTransition('IN_PROGRESS', 'FAILED')).not.toThrow();
    expect(() => assertDeploymentTransition('QUEUED', 'FAILED')).not.toThrow();
  });

  it('treats SUCCESS and FAILED as final', () => {
    for (const from of ['SUCCESS', 'FAILED'] as const) {
      for (const to of DEPLOYMENT_STATUSES) {
        expect(() => assertDeploymentTransition(from, to)).toThrow(IllegalTransitionError);
      }
    }
  });

  it('allows exactly the moves of the design', () => {
    for (const from of DEPLOYMENT_STATUSES) {
      for (const to of DEPLOYMENT_STATUSES) {
        expect(`${from} → ${to}: ${canTransitionDeployment(from, to)}`).toBe(`${from} → ${to}: ${listed(DEPLOYMENT_MOVES, from, to)}`);
      }
    }
  });

  it('rejects QUEUED → SUCCESS (a deployment that never ran cannot succeed)', () => {
    expect(() => assertDeploymentTransition('QUEUED', 'SUCCESS')).toThrow('QUEUED → SUCCESS');
  });
});
