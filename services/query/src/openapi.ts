import type { z } from 'zod';
import { createDocument } from 'zod-openapi';
import {
  ACTION_NAMES,
  actionAcceptedSchema,
  deploymentListSchema,
  environmentIdParams,
  environmentListSchema,
  environmentSchema,
  listDeploymentsQuery,
  listEnvironmentsQuery,
  namespaceParams,
  problemSchema,
} from './api-schemas.js';
import { SESSION_COOKIE } from './dashboard/cookie-names.js';

const json = (schema: z.ZodType) => ({ content: { 'application/json': { schema } } });
const problemResponse = (description: string) => ({ description, content: { 'application/problem+json': { schema: problemSchema } } });
const linkHeader = {
  Link: { description: 'RFC 8288 link to the next page (`rel="next"`), as GitHub\'s API does', schema: { type: 'string' as const } },
};
const errors = {
  '400': problemResponse('A parameter is malformed; `parameter` names it'),
  '401': problemResponse('Missing or unknown bearer token'),
};

const retryAfter = (description: string) => ({ 'Retry-After': { description, schema: { type: 'integer' as const } } });

const ACTION_SUMMARIES: Record<(typeof ACTION_NAMES)[number], string> = {
  redeploy: 'Queue a new deployment of the environment\'s current commit (READY and FAILED environments)',
  destroy: 'Queue the environment\'s teardown (live environments); a later push or reopen brings it back',
};

/** The POST operation of each action: one of API_WRITE_TOKENS, always, whatever API_AUTH says. */
const actionPaths = Object.fromEntries(
  ACTION_NAMES.map((action) => [
    `/api/v1/environments/{id}/${action}`,
    {
      post: {
        summary: ACTION_SUMMARIES[action],
        description:
          'Needs a token of API_WRITE_TOKENS, or a dashboard session (its cookie, without an Authorization header) with the session\'s CSRF token in the X-CSRF-Token header or the form field _csrf, of someone who may act on the repository. The action is queued for the worker, which checks again that it applies when it runs. A dashboard form (application/x-www-form-urlencoded) is answered 303 to the environment\'s page instead of 202.',
        security: [{ bearer: [] }, { session: [] }],
        requestParams: { path: environmentIdParams },
        responses: {
          '202': { description: 'The action is queued', ...json(actionAcceptedSchema) },
          '303': { description: 'The action is queued (a dashboard form): back to the environment\'s page, which says so' },
          ...errors,
          '403': problemResponse('The token is not a write token (API_TOKENS only read), or the service has no API_WRITE_TOKENS; for a session: no CSRF token or another one, or the person may not act on the repository (for a GitHub user: as GitHub says when asked, at that moment)'),
          '404': problemResponse('No such environment'),
          '409': problemResponse('The action does not apply: the environment is destroyed or being destroyed, its pull request is closed, or its status is not one the action applies to'),
          '429': { ...problemResponse('Too many actions with this token; wait as Retry-After says'), headers: retryAfter('Seconds until the token may act again') },
          '503': {
            ...problemResponse('The queue is unavailable, or (for a GitHub user\'s session) GitHub did not say whether they may act; nothing was queued'),
            headers: retryAfter('Seconds to wait before asking again'),
          },
        },
      },
    },
  ]),
);

/** The OpenAPI 3.1 document, generated from the same zod schemas the handlers validate with. */
export function createOpenApiDocument(serverUrl?: string) {
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Ephemera API',
      version: '1.0.0',
      description: 'Preview environments of pull requests, and their deployments.',
    },
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'One of API_TOKENS (reads), or of API_WRITE_TOKENS (reads and actions)' },
        session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: `A dashboard session (actions only), with its CSRF token; the cookie is __Host-${SESSION_COOKIE} under an https PUBLIC_URL` },
      },
    },
    security: [{ bearer: [] }],
    paths: {
      '/api/v1/environments': {
        get: {
          summary: 'List environments, newest first',
          requestParams: { query: listEnvironmentsQuery },
          responses: { '200': { description: 'A page of environments', headers: linkHeader, ...json(environmentListSchema) }, ...errors },
        },
      },
      '/api/v1/environments/{id}': {
        get: {
          summary: 'One environment',
          requestParams: { path: environmentIdParams },
          responses: { '200': { description: 'The environment', ...json(environmentSchema) }, ...errors, '404': problemResponse('No such environment') },
        },
      },
      '/api/v1/environments/namespace/{namespace}': {
        get: {
          summary: 'One environment, by its Kubernetes namespace',
          requestParams: { path: namespaceParams },
          responses: { '200': { description: 'The environment', ...json(environmentSchema) }, ...errors, '404': problemResponse('No such environment') },
        },
      },
      '/api/v1/config-schema.json': {
        get: {
          summary: 'The JSON Schema of .ephemera.yml, for editor completion (no token needed)',
          security: [],
          responses: {
            '200': {
              description: 'A JSON Schema (draft 2020-12), generated from the schema the worker validates with',
              content: { 'application/schema+json': { schema: { type: 'object' as const } } },
            },
          },
        },
      },
      '/api/v1/environments/{id}/deployments': {
        get: {
          summary: 'Deployment history of an environment, newest first',
          requestParams: { path: environmentIdParams, query: listDeploymentsQuery },
          responses: {
            '200': { description: 'A page of deployments', headers: linkHeader, ...json(deploymentListSchema) },
            ...errors,
            '404': problemResponse('No such environment'),
          },
        },
      },
      ...actionPaths,
    },
  });
}
