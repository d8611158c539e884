import { z } from 'zod';

/** The most replicas the file format allows; operators lower it with PREVIEW_MAX_REPLICAS. */
export const MAX_REPLICAS_FORMAT = 20;
export const MAX_TIMEOUT_SECONDS = 1800;

const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/**
 * The name of what becomes a Kubernetes object named after it (a service, an add-on, a job): a DNS-1035 label (a
 * DNS-1123 label that starts with a letter), as Service names must be, of at most `max` characters (`why` says the bound).
 */
export function objectName(max: number, why?: string) {
  return z
    .string()
    .max(max, why ? `at most ${max} characters (${why})` : `at most ${max} characters`)
    .regex(DNS1035_LABEL, 'a DNS-1123 label starting with a letter: lowercase letters, digits and dashes');
}

// A service's name becomes a Deployment's and a Service's name.
export const serviceName = objectName(63);
// Kubernetes' own rule for environment variable names.
export const envName = z.string().regex(/^[-._a-zA-Z][-._a-zA-Z0-9]*$/, 'letters, digits, "_", "-" and "."; not starting with a digit');
const secretName = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'a DNS-1123 subdomain (lowercase letters, digits, "-" and ".")');
const secretKey = z.string().max(253).regex(/^[-._a-zA-Z0-9]+$/, 'letters, digits, "-", "_" and "."');
const cpu = z.string().regex(/^(\d+m|\d+(\.\d{1,3})?)$/, 'a CPU quantity such as 250m or 1');
const memory = z.string().regex(/^\d+(\.\d+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$/, 'a memory quantity such as 256Mi or 1Gi');

// What a service's and a job's container share: the image, how it is started, its environment and resources.
export const containerFields = {
  image: z.string().min(1).max(512).describe('Container image; placeholders such as {{sha}} are replaced'),
  command: z.array(z.string().max(4096)).max(64).optional(),
  args: z.array(z.string().max(4096)).max(256).optional(),
  env: z
    .record(envName, z.union([z.string().max(32_768), z.number(), z.boolean()]))
    .default({})
    .describe('Plain values; placeholders such as {{url}} are replaced'),
  secret_env: z
    .array(z.strictObject({ name: envName, secret: secretName, key: secretKey }))
    .max(64)
    .default([])
    .describe('Values from Secrets the operator allows (PREVIEW_SECRETS_ALLOWED)'),
  resources: z
    .strictObject({ cpu: cpu.optional(), memory: memory.optional() })
    .optional()
    .describe('Requests and limits (equal); the operator defaults when absent'),
  run_as_user: z
    .number()
    .int()
    .min(1, 'a UID of 1 or more (previews never run as root)')
    .max(2_147_483_647)
    .optional()
    .describe('The UID the container runs as (`runAsUser`), for an image whose user is a name or root; the container always runs as non-root'),
};

export const previewServiceSchema = z
  .strictObject({
    image: containerFields.image,
    port: z.number().int().min(1).max(65535).optional().describe('Container port; required for the exposed service and for a service named by `routes`'),
    replicas: z.number().int().min(1).max(MAX_REPLICAS_FORMAT).default(1),
    command: containerFields.command,
    args: containerFields.args,
    env: containerFields.env,
    secret_env: containerFields.secret_env,
    resources: containerFields.resources,
    health: z
      .strictObject({ path: z.string().regex(/^\/\S*$/, 'an absolute path such as /healthz').max(1024) })
      .optional()
      .describe('HTTP readiness probe on `port`'),
    run_as_user: containerFields.run_as_user,
  })
  .describe('One Deployment (and a ClusterIP Service when it has a port), named after the key');

export type PreviewService = z.infer<typeof previewServiceSchema>;
