import {
  ENVIRONMENT_ACTIONS,
  ENVIRONMENT_STATUSES,
  deploymentResponseSchema,
  deploymentStatusSchema,
  environmentResponseSchema,
  type EnvironmentAction,
} from '@ephemera/schema';
import { z } from 'zod';

// The request parameters of the API: what the handlers validate with, and what the OpenAPI document says.

/** The largest PostgreSQL `integer` (ids, PR numbers): anything beyond it is a 400 here, not a database error. */
export const PG_INTEGER_MAX = 2_147_483_647;

const booleanParam = z.enum(['true', 'false']).transform((v) => v === 'true');
const limitParam = z.coerce.number().int().min(1).max(200).default(50).meta({ description: 'Page size (1–200)' });
const cursorParam = z.string().min(1).max(200).meta({ description: 'Opaque cursor from the previous page\'s Link header' });

export const listEnvironmentsQuery = z.object({
  repository: z
    .string()
    .regex(/^[^/\s]+\/[^/\s]+$/, 'must be owner/repo')
    .optional()
    .meta({ description: 'Only environments of this repository (owner/repo, in any case, as GitHub compares names)' }),
  active_only: booleanParam.optional().meta({ description: 'true: everything not DESTROYED' }),
  status: z
    .union([z.enum(ENVIRONMENT_STATUSES), z.array(z.enum(ENVIRONMENT_STATUSES))])
    .optional()
    .meta({ description: 'Only these statuses (repeatable)' }),
  pr_number: z.coerce.number().int().positive().max(PG_INTEGER_MAX).optional().meta({ description: 'Only this pull request number' }),
  limit: limitParam,
  cursor: cursorParam.optional(),
});

export const listDeploymentsQuery = z.object({
  include_logs: booleanParam.optional().meta({ description: 'true: include each deployment\'s logs (their newest 64 KiB, cut at a line with a marker saying how much was left out)' }),
  limit: limitParam,
  cursor: cursorParam.optional(),
});

export const environmentIdParams = z.object({ id: z.coerce.number().int().positive().max(PG_INTEGER_MAX) });
export const namespaceParams = z.object({ namespace: z.string().min(1).max(63) });

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    parameter: z.string().optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });

export const environmentSchema = environmentResponseSchema.meta({ id: 'Environment' });
/** The deployment statuses as documented: the enum is DEPLOYMENT_STATUSES itself, with what each means. */
const documentedDeploymentStatus = deploymentStatusSchema.meta({
  description:
    'QUEUED: not started yet. WAITING: waiting for the commit\'s checks (`deploy.wait_for` in .ephemera.yml) to pass; nothing is applied to the cluster meanwhile, and it fails when a check fails, it waits too long (`deploy.wait_timeout_minutes`) or a newer push supersedes it. IN_PROGRESS: being applied and rolled out. SUCCESS and FAILED: ended.',
});
// Only the status is described further: every field, in its order, stays deploymentResponseSchema's.
const deploymentSchema = deploymentResponseSchema.extend({ status: documentedDeploymentStatus }).meta({ id: 'Deployment' });
export const environmentListSchema = z.array(environmentSchema);
export const deploymentListSchema = z.array(deploymentSchema);

/** The actions' names as the API writes them, in their path and in the answer (`redeploy`, `destroy`). */
export const ACTION_NAMES = Object.keys(ENVIRONMENT_ACTIONS) as [EnvironmentAction, ...EnvironmentAction[]];

/** The answer to an action that was queued: the worker carries it out (or finds it no longer applies) later. */
export const actionAcceptedSchema = z
  .object({
    action: z.enum(ACTION_NAMES),
    environment_id: z.number().int(),
    /** The job's id in the actions queue, and the id the worker records the action under. */
    request_id: z.uuid(),
    status: z.literal('queued'),
  })
  .meta({ id: 'ActionAccepted' });
export type ActionAccepted = z.infer<typeof actionAcceptedSchema>;
