import { LineCounter, isNode, parseDocument } from 'yaml';
import { z } from 'zod';
import { slugify } from './namespace.js';

/**
 * `.ephemera.yml`: how a repository's preview is deployed. Read from the repository root at the pull request's
 * head commit (the base commit for pull requests from forks), validated here, and turned into Kubernetes objects
 * by the worker's Kubernetes provisioner. The JSON Schema served for editors is generated from this schema.
 */
export const PREVIEW_CONFIG_FILES = ['.ephemera.yml', '.ephemera.yaml'] as const;

/** Larger files are refused before parsing: a preview's configuration is a few dozen lines. */
export const MAX_PREVIEW_CONFIG_BYTES = 64 * 1024;

/** The placeholders replaced as plain text in `image`, `env` values, `command` and `args`. */
const PREVIEW_PLACEHOLDERS = ['sha', 'short_sha', 'pr', 'branch_slug', 'namespace', 'url', 'repository'] as const;
export type PreviewPlaceholder = (typeof PREVIEW_PLACEHOLDERS)[number];
export type PlaceholderValues = Record<PreviewPlaceholder, string>;

/** `{{ name }}`, spaces inside the braces allowed. */
const PLACEHOLDER = /\{\{\s*([^{}\s]*)\s*\}\}/g;

/** The most replicas the file format allows; operators lower it with PREVIEW_MAX_REPLICAS. */
export const MAX_REPLICAS_FORMAT = 20;
const MAX_TIMEOUT_SECONDS = 1800;

// A service's name becomes a Deployment's and a Service's name. Service names are DNS-1035 labels (a DNS-1123
// label that starts with a letter), so that stricter form is required for both.
const serviceName = z
  .string()
  .max(63, 'at most 63 characters')
  .regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/, 'a DNS-1123 label starting with a letter: lowercase letters, digits and dashes');
// Kubernetes' own rule for environment variable names.
const envName = z.string().regex(/^[-._a-zA-Z][-._a-zA-Z0-9]*$/, 'letters, digits, "_", "-" and "."; not starting with a digit');
const secretName = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'a DNS-1123 subdomain (lowercase letters, digits, "-" and ".")');
const secretKey = z.string().max(253).regex(/^[-._a-zA-Z0-9]+$/, 'letters, digits, "-", "_" and "."');
const cpu = z.string().regex(/^(\d+m|\d+(\.\d{1,3})?)$/, 'a CPU quantity such as 250m or 1');
const memory = z.string().regex(/^\d+(\.\d+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$/, 'a memory quantity such as 256Mi or 1Gi');

const previewServiceSchema = z
  .strictObject({
    image: z.string().min(1).max(512).describe('Container image; placeholders such as {{sha}} are replaced'),
    port: z.number().int().min(1).max(65535).optional().describe('Container port; required for the exposed service'),
    replicas: z.number().int().min(1).max(MAX_REPLICAS_FORMAT).default(1),
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
    health: z
      .strictObject({ path: z.string().regex(/^\/\S*$/, 'an absolute path such as /healthz').max(1024) })
      .optional()
      .describe('HTTP readiness probe on `port`'),
    run_as_user: z
      .number()
      .int()
      .min(1, 'a UID of 1 or more (previews never run as root)')
      .max(2_147_483_647)
      .optional()
      .describe('The UID the container runs as (`runAsUser`), for an image whose user is a name or root; the container always runs as non-root'),
  })
  .describe('One Deployment (and a ClusterIP Service when it has a port), named after the key');

/** Check run names and status contexts are free text on GitHub; bounded here. */
const checkName = z.string().min(1, 'a name').max(256, 'at most 256 characters');

/**
 * One entry of `deploy.wait_for`: a name (a check run of that name or, when none exists on the commit, a commit
 * status of that context), a check run (optionally only one made by the GitHub App `app`), or a commit status.
 */
const waitForEntrySchema = z.union([
  checkName,
  z
    .strictObject({
      check: checkName.optional().describe('A check run of this name'),
      status: checkName.optional().describe('A commit status of this context'),
      app: z
        .string()
        .regex(/^[a-z0-9][a-z0-9-]*$/, 'a GitHub App slug such as github-actions')
        .max(100)
        .optional()
        .describe('Only a check run made by this GitHub App (its slug) counts'),
    })
    .superRefine((entry, ctx) => {
      if ((entry.check === undefined) === (entry.status === undefined)) {
        ctx.addIssue({ code: 'custom', message: 'an entry names either `check` or `status`, not both and not neither' });
      } else if (entry.app !== undefined && entry.check === undefined) {
        ctx.addIssue({ code: 'custom', path: ['app'], message: '`app` goes with `check` (commit statuses are not made by an App)' });
      }
    }),
]);
export type WaitForEntry = z.infer<typeof waitForEntrySchema>;

export const DEFAULT_WAIT_TIMEOUT_MINUTES = 60;

const deploySchema = z
  .strictObject({
    wait_for: z
      .array(waitForEntrySchema)
      .min(1, 'at least one check or status')
      .max(50, 'at most 50 entries')
      .describe('Checks (by name) or commit statuses (by context) that must pass on the commit before it is deployed'),
    wait_timeout_minutes: z
      .number()
      .int()
      .min(1)
      .max(720)
      .default(DEFAULT_WAIT_TIMEOUT_MINUTES)
      .describe('How long a deployment waits for them before it fails'),
  })
  .describe('When a commit may be deployed');

const previewConfigSchema = z
  .strictObject({
    version: z.literal(1),
    services: z
      .record(serviceName, previewServiceSchema)
      .refine((s) => Object.keys(s).length > 0, 'at least one service')
      .refine((s) => Object.keys(s).length <= 20, 'at most 20 services'),
    expose: serviceName.optional().describe('The service behind the preview URL; default: the only service'),
    timeout_seconds: z.number().int().min(30).max(MAX_TIMEOUT_SECONDS).default(600).describe('How long a rollout may take'),
    deploy: deploySchema.optional(),
  })
  .superRefine((config, ctx) => {
    const names = Object.keys(config.services);
    if (config.expose !== undefined && !names.includes(config.expose)) {
      ctx.addIssue({ code: 'custom', path: ['expose'], message: `names no service (services: ${names.join(', ')})` });
    }
    if (config.expose === undefined && names.length > 1) {
      ctx.addIssue({ code: 'custom', path: ['expose'], message: `required when there are several services (${names.join(', ')})` });
    }
    const exposed = config.expose ?? (names.length === 1 ? names[0] : undefined);
    if (exposed !== undefined && config.services[exposed] && config.services[exposed].port === undefined) {
      ctx.addIssue({ code: 'custom', path: ['services', exposed, 'port'], message: 'required for the exposed service' });
    }
    for (const [name, service] of Object.entries(config.services)) {
      if (service.health && service.port === undefined) {
        ctx.addIssue({ code: 'custom', path: ['services', name, 'health'], message: 'needs `port` (the probe runs on it)' });
      }
      const plain = new Set(Object.keys(service.env));
      service.secret_env.forEach((s, i) => {
        if (plain.has(s.name)) {
          ctx.addIssue({ code: 'custom', path: ['services', name, 'secret_env', i, 'name'], message: `${s.name} is also set in env` });
        }
      });
      for (const [path, text] of templatedStrings(service)) {
        for (const m of text.matchAll(PLACEHOLDER)) {
          if (!(PREVIEW_PLACEHOLDERS as readonly string[]).includes(m[1]!)) {
            ctx.addIssue({
              code: 'custom',
              path: ['services', name, ...path],
              message: `unknown placeholder ${m[0]} (known: ${PREVIEW_PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')})`,
            });
          }
        }
      }
    }
  });

export type PreviewConfig = z.infer<typeof previewConfigSchema>;
export type PreviewService = PreviewConfig['services'][string];

/** The strings of a service that placeholders are replaced in, with their paths. */
function templatedStrings(service: PreviewService): Array<[Array<string | number>, string]> {
  return [
    [['image'], service.image],
    ...Object.entries(service.env).flatMap(([k, v]): Array<[Array<string | number>, string]> => (typeof v === 'string' ? [[['env', k], v]] : [])),
    ...(service.command ?? []).map((c, i): [Array<string | number>, string] => [['command', i], c]),
    ...(service.args ?? []).map((a, i): [Array<string | number>, string] => [['args', i], a]),
  ];
}

export interface ConfigProblem {
  /** Where in the file, as a dotted path (`services.web.port`), or empty for the file as a whole. */
  path: string;
  message: string;
}

export type ConfigParseResult = { ok: true; config: PreviewConfig } | { ok: false; problems: ConfigProblem[] };

export interface ConfigLimits {
  /** PREVIEW_MAX_REPLICAS. */
  maxReplicas: number;
}

/**
 * Parses and validates the text of `.ephemera.yml`. Every problem is reported with its path and reason, not
 * only the first, so one fix-and-push round is enough.
 */
export function parsePreviewConfig(text: string, limits: ConfigLimits = { maxReplicas: MAX_REPLICAS_FORMAT }): ConfigParseResult {
  if (Buffer.byteLength(text, 'utf8') > MAX_PREVIEW_CONFIG_BYTES) {
    return { ok: false, problems: [{ path: '', message: `larger than ${MAX_PREVIEW_CONFIG_BYTES / 1024} KiB` }] };
  }
  // Aliases are refused outright: a few nested ones expand into gigabytes (the "billion laughs" document).
  const lines = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    // Pretty messages end their first line with the position ("… at line 3, column 5:").
    return { ok: false, problems: doc.errors.map((e) => ({ path: '', message: `invalid YAML: ${e.message.split('\n')[0]!.replace(/:$/, '')}` })) };
  }
  // The line of a path's value, so each problem can be found in the file.
  const lineOf = (path: readonly PropertyKey[]): string => {
    for (let n = path.length; n > 0; n--) {
      const node = doc.getIn(path.slice(0, n) as Array<string | number>, true);
      if (isNode(node) && node.range) return ` (line ${lines.linePos(node.range[0]).line})`;
    }
    return '';
  };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 0 });
  } catch (err) {
    return { ok: false, problems: [{ path: '', message: `invalid YAML: ${(err as Error).message}` }] };
  }
  if (value === null || value === undefined) return { ok: false, problems: [{ path: '', message: 'the file is empty' }] };
  const parsed = previewConfigSchema.safeParse(value);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: `${issueMessage(i)}${lineOf(i.path)}` })),
    };
  }
  const problems: ConfigProblem[] = [];
  for (const [name, service] of Object.entries(parsed.data.services)) {
    if (service.replicas > limits.maxReplicas) {
      problems.push({
        path: `services.${name}.replicas`,
        message: `at most ${limits.maxReplicas} on this installation${lineOf(['services', name, 'replicas'])}`,
      });
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, config: parsed.data };
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}`;
  if (issue.code === 'invalid_key') return `invalid name: ${issue.issues[0]?.message ?? issue.message}`;
  return issue.message;
}

/** One line per problem, as shown in a deployment's error and the pull request comment. */
export function describeConfigProblems(file: string, problems: readonly ConfigProblem[]): string {
  return [`${file} is not valid:`, ...problems.map((p) => `- ${p.path || '(file)'}: ${p.message}`)].join('\n');
}

/** Replaces the known placeholders in `text` (unknown ones were refused when the file was validated). */
export function renderPlaceholders(text: string, values: PlaceholderValues): string {
  return text.replace(PLACEHOLDER, (whole, name: string) => ((PREVIEW_PLACEHOLDERS as readonly string[]).includes(name) ? values[name as PreviewPlaceholder] : whole));
}

/** `{{branch_slug}}`: the branch name folded to a DNS label (a fork's branch name is data, never syntax). */
export function branchSlug(branch: string): string {
  return slugify(branch).slice(0, 63).replace(/-+$/, '') || 'branch';
}

/** The JSON Schema of `.ephemera.yml` (what an editor may write: defaults are optional), for editor completion. */
export function previewConfigJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(previewConfigSchema, { io: 'input', target: 'draft-2020-12' }),
    title: 'Ephemera preview configuration (.ephemera.yml)',
  };
}
