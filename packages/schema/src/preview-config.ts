import { LineCounter, isNode, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { DEFAULT_MAX_ADDON_STORAGE, storageBytes } from './preview-addons.js';
import { previewConfigSchema, type PreviewConfig } from './preview-config-schema.js';
import { MAX_REPLICAS_FORMAT } from './preview-container.js';

export { ADDON_DEFAULTS, ADDON_TYPES, DEFAULT_ADDON_STORAGE, DEFAULT_MAX_ADDON_STORAGE, MAX_ADDONS, MAX_ADDON_NAME_LENGTH, addonCredentialsSecret, storageBytes } from './preview-addons.js';
export type { AddonType, PreviewAddon } from './preview-addons.js';
export type { PreviewConfig } from './preview-config-schema.js';
export { MAX_REPLICAS_FORMAT } from './preview-container.js';
export type { PreviewService } from './preview-container.js';
export { DEFAULT_WAIT_TIMEOUT_MINUTES } from './preview-deploy-gate.js';
export type { WaitForEntry } from './preview-deploy-gate.js';
export { DEFAULT_JOB_TIMEOUT_SECONDS, JOB_WHEN, MAX_DEPLOYMENT_ID_DIGITS, MAX_JOBS, MAX_JOB_NAME_LENGTH, jobRunName } from './preview-jobs.js';
export type { JobWhen, PreviewJob } from './preview-jobs.js';
export { branchSlug, renderPlaceholders } from './preview-placeholders.js';
export type { PlaceholderValues, PreviewPlaceholder } from './preview-placeholders.js';
export { routesByPrefix } from './preview-routes.js';
export type { PreviewRoute } from './preview-routes.js';

/**
 * `.ephemera.yml`: how a repository's preview is deployed. Read from the repository root at the pull request's
 * head commit (the base commit for pull requests from forks), validated here, and turned into Kubernetes objects
 * by the worker's Kubernetes provisioner. The JSON Schema served for editors is generated from this schema.
 */
export const PREVIEW_CONFIG_FILES = ['.ephemera.yml', '.ephemera.yaml'] as const;

/** Larger files are refused before parsing: a preview's configuration is a few dozen lines. */
export const MAX_PREVIEW_CONFIG_BYTES = 64 * 1024;

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

/** ` (line N)`: the line of a path's value (or of its nearest parent in the file), so each problem can be found. */
type LineOf = (path: readonly PropertyKey[]) => string;

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
  const lineOf = linesOf(doc, lines);
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
  const problems = beyondLimits(parsed.data, limits, lineOf);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, config: parsed.data };
}

function linesOf(doc: Document, lines: LineCounter): LineOf {
  return (path) => {
    for (let n = path.length; n > 0; n--) {
      const node = doc.getIn(path.slice(0, n) as Array<string | number>, true);
      if (isNode(node) && node.range) return ` (line ${lines.linePos(node.range[0]).line})`;
    }
    return '';
  };
}

/** What the file asks for beyond what this installation allows (PREVIEW_MAX_ADDON_STORAGE, PREVIEW_MAX_REPLICAS). */
function beyondLimits(config: PreviewConfig, limits: ConfigLimits, lineOf: LineOf): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const maxStorage = limits.maxAddonStorage ?? DEFAULT_MAX_ADDON_STORAGE;
  const maxStorageBytes = storageBytes(maxStorage);
  if (maxStorageBytes === undefined) throw new Error(`maxAddonStorage ${maxStorage} is not a storage quantity such as 10Gi`);
  for (const [name, addon] of Object.entries(config.addons ?? {})) {
    if (storageBytes(addon.storage)! > maxStorageBytes) {
      problems.push({
        path: `addons.${name}.storage`,
        message: `at most ${maxStorage} on this installation${lineOf(['addons', name, 'storage'])}`,
      });
    }
  }
  for (const [name, service] of Object.entries(config.services)) {
    if (service.replicas > limits.maxReplicas) {
      problems.push({
        path: `services.${name}.replicas`,
        message: `at most ${limits.maxReplicas} on this installation${lineOf(['services', name, 'replicas'])}`,
      });
    }
  }
  return problems;
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

/** The JSON Schema of `.ephemera.yml` (what an editor may write: defaults are optional), for editor completion. */
export function previewConfigJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(previewConfigSchema, { io: 'input', target: 'draft-2020-12' }),
    title: 'Ephemera preview configuration (.ephemera.yml)',
  };
}
