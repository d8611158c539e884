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

// What a service's and a job's container share: the image, how it is started, its environment and resources.
const containerFields = {
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

const previewServiceSchema = z
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

/** The add-on types and, per type, the version and the variable its URL is given in unless the file says otherwise. */
export const ADDON_TYPES = ['postgres', 'mysql', 'redis'] as const;
export type AddonType = (typeof ADDON_TYPES)[number];
export const ADDON_DEFAULTS: Record<AddonType, { version: string; url_env: string }> = {
  postgres: { version: '16', url_env: 'DATABASE_URL' },
  mysql: { version: '8.4', url_env: 'DATABASE_URL' },
  redis: { version: '7', url_env: 'REDIS_URL' },
};
export const DEFAULT_ADDON_STORAGE = '1Gi';
/** PREVIEW_MAX_ADDON_STORAGE's default: the largest `storage` an add-on may ask for. */
export const DEFAULT_MAX_ADDON_STORAGE = '10Gi';
export const MAX_ADDONS = 10;

// An add-on's name becomes a StatefulSet's and a Service's name (DNS-1035 label). A StatefulSet's pods carry the
// label controller-revision-hash = `<name>-<10-character hash>`, and a label value is at most 63 characters: so 52.
export const MAX_ADDON_NAME_LENGTH = 52;
const addonName = z
  .string()
  .max(MAX_ADDON_NAME_LENGTH, `at most ${MAX_ADDON_NAME_LENGTH} characters (it names a StatefulSet)`)
  .regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/, 'a DNS-1123 label starting with a letter: lowercase letters, digits and dashes');

// A Kubernetes quantity of bytes, binary or decimal suffix: 512Mi, 1Gi, 5G.
const STORAGE_QUANTITY = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/;
const STORAGE_UNITS: Record<string, number> = {
  '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50,
};

/** The bytes of a storage quantity such as `1Gi` or `500M`, or undefined when it is not one. */
export function storageBytes(quantity: string): number | undefined {
  const m = STORAGE_QUANTITY.exec(quantity);
  return m ? Number(m[1]) * STORAGE_UNITS[m[2] ?? '']! : undefined;
}

const storage = z
  .string({ error: (iss) => (iss.input === undefined ? undefined : 'a storage quantity such as 1Gi or 512Mi') })
  .regex(STORAGE_QUANTITY, 'a storage quantity such as 1Gi or 512Mi')
  .refine((q) => (storageBytes(q) ?? 0) >= 1, 'more than 0');

const addonSchema = (type: AddonType) =>
  z
    .strictObject({
      type: z.literal(type),
      version: z
        .string({ error: (iss) => (iss.input === undefined ? undefined : `a version as a quoted string, such as "${ADDON_DEFAULTS[type].version}"`) })
        .max(32)
        .regex(/^\d+(\.\d+){0,2}$/, `digits with up to two dot parts, such as "${ADDON_DEFAULTS[type].version}"`)
        .default(ADDON_DEFAULTS[type].version)
        .describe(`The ${type} version (its image's tag); default "${ADDON_DEFAULTS[type].version}"`),
      storage: storage
        .default(DEFAULT_ADDON_STORAGE)
        .describe(`Size of its volume; default ${DEFAULT_ADDON_STORAGE}, at most what the installation allows (PREVIEW_MAX_ADDON_STORAGE, default ${DEFAULT_MAX_ADDON_STORAGE})`),
      url_env: envName
        .default(ADDON_DEFAULTS[type].url_env)
        .describe(`The variable every service and job gets its URL in; default ${ADDON_DEFAULTS[type].url_env}`),
    })
    .describe(`A ${type} of the preview's own: a StatefulSet with a volume, a Service named after the key and a Secret <name>-credentials`);

const previewAddonSchema = z.discriminatedUnion(
  'type',
  ADDON_TYPES.map(addonSchema) as [ReturnType<typeof addonSchema>, ...Array<ReturnType<typeof addonSchema>>],
  { error: (iss) => (iss.code === 'invalid_union' ? `one of ${ADDON_TYPES.join(', ')}` : undefined) },
);

export const JOB_WHEN = ['before_deploy', 'after_create'] as const;
export type JobWhen = (typeof JOB_WHEN)[number];
export const DEFAULT_JOB_TIMEOUT_SECONDS = 600;
export const MAX_JOBS = 20;
/** The longest deployment id a job run's name leaves room for (`<job>-<short sha>-<deployment id>`). */
export const MAX_DEPLOYMENT_ID_DIGITS = 14;
// A run is the Job `<job>-<7 hex>-<deployment id>`, whose name is also a label value on its pods (≤ 63):
// 40 + 1 + 7 + 1 + 14 = 63.
export const MAX_JOB_NAME_LENGTH = 63 - 1 - 7 - 1 - MAX_DEPLOYMENT_ID_DIGITS;
const jobName = z
  .string()
  .max(MAX_JOB_NAME_LENGTH, `at most ${MAX_JOB_NAME_LENGTH} characters (each run is the Job <name>-<short sha>-<deployment id>)`)
  .regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/, 'a DNS-1123 label starting with a letter: lowercase letters, digits and dashes');

const previewJobSchema = z
  .strictObject({
    ...containerFields,
    when: z
      .enum(JOB_WHEN, { error: (iss) => (iss.input === undefined ? `required: ${JOB_WHEN.join(' or ')}` : `one of ${JOB_WHEN.join(', ')}`) })
      .describe('before_deploy: on every deploy, after the add-ons are ready and before the services roll; after_create: once per environment, after its first successful rollout'),
    timeout_seconds: z
      .number()
      .int()
      .min(1)
      .max(MAX_TIMEOUT_SECONDS)
      .default(DEFAULT_JOB_TIMEOUT_SECONDS)
      .describe('How long one run may take (activeDeadlineSeconds)'),
  })
  .describe('A Kubernetes Job run to completion, named after the key');

const routeSchema = z
  .strictObject({
    path: z
      .string()
      .max(1024)
      .regex(/^\/([A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*)?$/, 'an absolute path such as /api: letters, digits, ".", "_", "~", "-" and "/", no trailing or doubled "/"')
      .describe('A path prefix of the preview host; the longest matching prefix wins'),
    service: serviceName.describe('A service with a `port`'),
  })
  .describe('Requests under `path` go to `service`');

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
    expose: serviceName.optional().describe('The service behind the preview URL; default: the only service. Not with `routes`'),
    routes: z
      .array(routeSchema)
      .min(1, 'at least one route')
      .max(50, 'at most 50 routes')
      .optional()
      .describe('Instead of `expose`: paths of the preview host and the services behind them, longest prefix first'),
    timeout_seconds: z.number().int().min(30).max(MAX_TIMEOUT_SECONDS).default(600).describe('How long a rollout may take'),
    deploy: deploySchema.optional(),
    addons: z
      .record(addonName, previewAddonSchema)
      .refine((a) => Object.keys(a).length <= MAX_ADDONS, `at most ${MAX_ADDONS} add-ons`)
      .optional()
      .describe("Databases and caches of the preview's own, kept across pushes; every service and job gets each one's URL in `url_env`"),
    jobs: z
      .record(jobName, previewJobSchema)
      .refine((j) => Object.keys(j).length <= MAX_JOBS, `at most ${MAX_JOBS} jobs`)
      .optional()
      .describe('Jobs run before each deploy (migrations) or once per environment (seed data), in file order'),
  })
  .superRefine((config, ctx) => {
    const names = Object.keys(config.services);
    if (config.routes !== undefined) {
      if (config.expose !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['routes'], message: '`routes` and `expose` do not go together: keep one of them' });
      }
      const seen = new Map<string, number>();
      config.routes.forEach((route, i) => {
        const first = seen.get(route.path);
        if (first !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['routes', i, 'path'], message: `${route.path} is already routed by routes.${first}` });
        } else {
          seen.set(route.path, i);
        }
        const service = config.services[route.service];
        if (service === undefined) {
          ctx.addIssue({ code: 'custom', path: ['routes', i, 'service'], message: `names no service (services: ${names.join(', ')})` });
        } else if (service.port === undefined) {
          ctx.addIssue({ code: 'custom', path: ['routes', i, 'service'], message: `${route.service} has no \`port\` to route to` });
        }
      });
    } else {
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
    }

    // Add-ons: a Service each, beside the services' own; one variable each in every container.
    const urlEnvs = new Map<string, string>();
    for (const [name, addon] of Object.entries(config.addons ?? {})) {
      if (names.includes(name)) {
        ctx.addIssue({ code: 'custom', path: ['addons', name], message: `${name} is also a service (both would be the Service ${name}): rename one` });
      }
      const other = urlEnvs.get(addon.url_env);
      if (other !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['addons', name, 'url_env'],
          message: `${addon.url_env} is also the url_env of add-on ${other}: set url_env to a different variable on one of them`,
        });
      } else {
        urlEnvs.set(addon.url_env, name);
      }
    }
    const credentials = new Map(Object.keys(config.addons ?? {}).map((a) => [addonCredentialsSecret(a), a]));

    const containers: Array<['services' | 'jobs', string, PreviewService | PreviewJob]> = [
      ...Object.entries(config.services).map(([n, s]): ['services', string, PreviewService] => ['services', n, s]),
      ...Object.entries(config.jobs ?? {}).map(([n, j]): ['jobs', string, PreviewJob] => ['jobs', n, j]),
    ];
    for (const [kind, name, container] of containers) {
      if (kind === 'services' && 'health' in container && container.health && container.port === undefined) {
        ctx.addIssue({ code: 'custom', path: ['services', name, 'health'], message: 'needs `port` (the probe runs on it)' });
      }
      const plain = new Set(Object.keys(container.env));
      for (const variable of plain) {
        const addon = urlEnvs.get(variable);
        if (addon !== undefined) {
          ctx.addIssue({ code: 'custom', path: [kind, name, 'env', variable], message: addonVariableClash(variable, addon) });
        }
      }
      container.secret_env.forEach((s, i) => {
        if (plain.has(s.name)) {
          ctx.addIssue({ code: 'custom', path: [kind, name, 'secret_env', i, 'name'], message: `${s.name} is also set in env` });
        } else if (urlEnvs.has(s.name)) {
          ctx.addIssue({ code: 'custom', path: [kind, name, 'secret_env', i, 'name'], message: addonVariableClash(s.name, urlEnvs.get(s.name)!) });
        }
        const addon = credentials.get(s.secret);
        if (addon !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [kind, name, 'secret_env', i, 'secret'],
            message: `${s.secret} is the Secret of add-on ${addon} (its URL is already in ${config.addons![addon]!.url_env}): name another Secret or rename the add-on`,
          });
        }
      });
      for (const [path, text] of templatedStrings(container)) {
        for (const m of text.matchAll(PLACEHOLDER)) {
          if (!(PREVIEW_PLACEHOLDERS as readonly string[]).includes(m[1]!)) {
            ctx.addIssue({
              code: 'custom',
              path: [kind, name, ...path],
              message: `unknown placeholder ${m[0]} (known: ${PREVIEW_PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')})`,
            });
          }
        }
      }
    }
  });

function addonVariableClash(variable: string, addon: string): string {
  return `${variable} is the url_env of add-on ${addon}, which every service and job gets: remove it here or set that add-on's url_env to another name`;
}

export type PreviewConfig = z.infer<typeof previewConfigSchema>;
export type PreviewService = PreviewConfig['services'][string];
export type PreviewAddon = z.infer<typeof previewAddonSchema>;
export type PreviewJob = z.infer<typeof previewJobSchema>;
export type PreviewRoute = z.infer<typeof routeSchema>;

/** The Secret holding an add-on's generated password and URL. */
export function addonCredentialsSecret(addon: string): string {
  return `${addon}-credentials`;
}

/** The name of one run of a job: `<job>-<short sha>-<deployment id>`, at most 63 characters for a valid job name. */
export function jobRunName(job: string, shortSha: string, deploymentId: string | number): string {
  const name = `${job}-${shortSha.slice(0, 7).toLowerCase()}-${deploymentId}`;
  if (name.length > 63) throw new Error(`job run name ${name} is longer than 63 characters`);
  return name;
}

/** The routes by precedence: longest path first (as the Ingress matches them); equal lengths keep file order. */
export function routesByPrefix(routes: readonly PreviewRoute[]): PreviewRoute[] {
  return routes
    .map((route, i) => ({ route, i }))
    .sort((a, b) => b.route.path.length - a.route.path.length || a.i - b.i)
    .map(({ route }) => route);
}

/** The strings of a service or job that placeholders are replaced in, with their paths. */
function templatedStrings(container: PreviewService | PreviewJob): Array<[Array<string | number>, string]> {
  return [
    [['image'], container.image],
    ...Object.entries(container.env).flatMap(([k, v]): Array<[Array<string | number>, string]> => (typeof v === 'string' ? [[['env', k], v]] : [])),
    ...(container.command ?? []).map((c, i): [Array<string | number>, string] => [['command', i], c]),
    ...(container.args ?? []).map((a, i): [Array<string | number>, string] => [['args', i], a]),
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
  /** PREVIEW_MAX_ADDON_STORAGE, a storage quantity; default 10Gi. */
  maxAddonStorage?: string;
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
  const maxStorage = limits.maxAddonStorage ?? DEFAULT_MAX_ADDON_STORAGE;
  const maxStorageBytes = storageBytes(maxStorage);
  if (maxStorageBytes === undefined) throw new Error(`maxAddonStorage ${maxStorage} is not a storage quantity such as 10Gi`);
  for (const [name, addon] of Object.entries(parsed.data.addons ?? {})) {
    if (storageBytes(addon.storage)! > maxStorageBytes) {
      problems.push({
        path: `addons.${name}.storage`,
        message: `at most ${maxStorage} on this installation${lineOf(['addons', name, 'storage'])}`,
      });
    }
  }
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
