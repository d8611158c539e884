import { z } from 'zod';

// What people ask of an environment from the dashboard or the write API, carried to the worker as jobs on their own
// queue (`ephemera-actions`). The query service checks that an action applies before queueing it; the worker
// checks again under the pull request's lock, since the environment may have moved meanwhile.

export const ENVIRONMENT_ACTIONS = {
  /** A new deployment of the environment's current commit (READY and FAILED environments of open pull requests). */
  redeploy: 'environment.redeploy',
  /** The environment torn down (live environments); a later push or reopen brings it back, as after a close. */
  destroy: 'environment.destroy',
} as const;
export type EnvironmentAction = keyof typeof ENVIRONMENT_ACTIONS;

/** Who asked: an operator (ADMIN_USERNAME), a person signed in with GitHub, or a bearer token of API_WRITE_TOKENS. */
export const actionRequesterSchema = z.object({
  kind: z.enum(['operator', 'github', 'token']),
  /** The operator's username, the GitHub login, or the token's label (never the token). */
  login: z.string().min(1).max(100),
});
export type ActionRequester = z.infer<typeof actionRequesterSchema>;

export const environmentActionJobSchema = z.object({
  /**
   * A GUID per request, recorded like a delivery id when the action is applied: the job retried after a crash, or
   * queued twice, applies once.
   */
  requestId: z.uuid(),
  environmentId: z.number().int().positive(),
  requestedBy: actionRequesterSchema,
  requestedAt: z.iso.datetime({ offset: true }),
});
export type EnvironmentActionJob = z.infer<typeof environmentActionJobSchema>;

/** The environment statuses each action applies to (the API answers 409 for others). */
export const ACTION_APPLIES_TO: Readonly<Record<EnvironmentAction, readonly string[]>> = {
  redeploy: ['READY', 'FAILED'],
  destroy: ['PENDING', 'PROVISIONING', 'READY', 'UPDATING', 'FAILED'],
};
