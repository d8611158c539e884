import { describe, expect, it } from '@jest/globals';
import {
  DEPLOYMENT_STATUSES,
  DEPLOYMENT_TRANSITIONS,
  ENVIRONMENT_STATUSES,
  ENVIRONMENT_TRANSITIONS,
  IllegalTransitionError,
  assertDeploymentTransition,
  assertEnvironmentTransition,
  canTransitionEnvironment,
  deploymentPredecessors,
  environmentPredecessors,
} from '../src/index.js';

describe('environment state machine', () => {
  it('walks the lifecycle of the design', () => {
    const path = ['PENDING', 'PROVISIONING', 'READY', 'UPDATING', 'READY', 'DESTROYING', 'DESTROYED', 'PENDING'] as const;
    for (let i = 1; i < path.length; i++) {
      expect(() => assertEnvironmentTransition(path[i - 1]!, path[i]!)).not.toThrow();
    }
  });

  it('rejects every pair the table does not list, self-transitions included', () => {
    let rejected = 0;
    for (const from of ENVIRONMENT_STATUSES) {
      for (const to of ENVIRONMENT_STATUSES) {
        const allowed = ENVIRONMENT_TRANSITIONS[from].includes(to);
        expect(canTransitionEnvironment(from, to)).toBe(allowed);
        if (!allowed) {
          expect(() => assertEnvironmentTransition(from, to, 7)).toThrow(IllegalTransitionError);
          rejected++;
        }
      }
    }
    // 49 pairs, 19 allowed: the table is neither empty nor everything.
    expect(rejected).toBe(49 - 19);
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
  });

  it('computes predecessors consistently with the table', () => {
    for (const to of ENVIRONMENT_STATUSES) {
      for (const from of environmentPredecessors(to)) expect(ENVIRONMENT_TRANSITIONS[from]).toContain(to);
    }
    expect(environmentPredecessors('READY').sort()).toEqual(['PROVISIONING', 'UPDATING']);
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
    expect(DEPLOYMENT_TRANSITIONS.SUCCESS).toHaveLength(0);
  });

  it('rejects QUEUED → SUCCESS (a deployment that never ran cannot succeed)', () => {
    expect(() => assertDeploymentTransition('QUEUED', 'SUCCESS')).toThrow('QUEUED → SUCCESS');
    expect(deploymentPredecessors('SUCCESS')).toEqual(['IN_PROGRESS']);
  });
});
