import { z } from 'zod';
import { ENVIRONMENT_ACTIONS, actionRequesterSchema, type EnvironmentAction } from './environment-actions.js';
import { deploymentStatusSchema, environmentStatusSchema } from './statuses.js';

// The JSON the query API returns: snake_case field names exactly as the tables, timestamps ISO 8601 in UTC
// as PostgreSQL writes them ("2026-01-01T12:00:00.123456+00:00", fraction only when non-zero).
// GitHub ids are bigint in the database and plain numbers here (they stay far below 2^53).
// These schemas are the only list of the fields: @ephemera/db renders each key from the column of the same name
// (or an expression it names), in this order, and checks at every migration that the tables still provide them.
// A field marked optional is rendered only when the request asks for it.
const timestamp = z.iso.datetime({ offset: true }).regex(/(Z|\+00:00)$/, 'must be UTC');

export const environmentResponseSchema = z.object({
  id: z.number().int(),
  /** GitHub's numeric repository id, which a rename or transfer keeps; null for rows made before it was kept. */
  repository_id: z.number().int().nullable(),
  repository_full_name: z.string(),
  repository_name: z.string(),
  pr_number: z.number().int(),
  pr_title: z.string().nullable(),
  branch_name: z.string(),
  commit_sha: z.string(),
  namespace: z.string(),
  environment_url: z.string().nullable(),
  status: environmentStatusSchema,
  installation_id: z.number().int(),
  owner_id: z.number().int().nullable(),
  /** The owner's GitHub login, embedded so a list needs no second request. */
  owner: z.string().nullable(),
  error_message: z.string().nullable(),
  last_deployed_at: timestamp.nullable(),
  created_at: timestamp,
  updated_at: timestamp,
  destroyed_at: timestamp.nullable(),
  /** The last redeploy or destroy asked for from the dashboard or the write API, who asked (login and kind) and when. */
  last_action: z.enum(Object.keys(ENVIRONMENT_ACTIONS) as [EnvironmentAction, ...EnvironmentAction[]]).nullable(),
  last_action_by: z.string().nullable(),
  last_action_kind: actionRequesterSchema.shape.kind.nullable(),
  last_action_at: timestamp.nullable(),
});

export const deploymentResponseSchema = z.object({
  id: z.number().int(),
  environment_id: z.number().int(),
  commit_sha: z.string(),
  commit_message: z.string().nullable(),
  status: deploymentStatusSchema,
  started_at: timestamp.nullable(),
  completed_at: timestamp.nullable(),
  error_message: z.string().nullable(),
  /**
   * While WAITING: the checks of `deploy.wait_for` that have not passed yet, as the pull request comment names them
   * ("`build`, `docker / push`"); null otherwise.
   */
  waiting_for: z.string().nullable(),
  /** When it started waiting for its commit's checks; null when it never waited. */
  waiting_since: timestamp.nullable(),
  /** Present only with `include_logs=true`. */
  logs: z.string().nullable().optional(),
  created_at: timestamp,
  updated_at: timestamp,
});

