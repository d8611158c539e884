import { slugify } from './namespace.js';
import type { PreviewService } from './preview-container.js';
import type { PreviewJob } from './preview-jobs.js';

/** The placeholders replaced as plain text in `image`, `env` values, `command` and `args`. */
const PREVIEW_PLACEHOLDERS = ['sha', 'short_sha', 'pr', 'branch_slug', 'namespace', 'url', 'repository'] as const;
export type PreviewPlaceholder = (typeof PREVIEW_PLACEHOLDERS)[number];
export type PlaceholderValues = Record<PreviewPlaceholder, string>;

/** `{{ name }}`, spaces inside the braces allowed. */
const PLACEHOLDER = /\{\{\s*([^{}\s]*)\s*\}\}/g;

const isPlaceholder = (name: string): name is PreviewPlaceholder => (PREVIEW_PLACEHOLDERS as readonly string[]).includes(name);

/** A placeholder in a service's or job's strings that is not one of {@link PREVIEW_PLACEHOLDERS}, where it is. */
export interface UnknownPlaceholder {
  path: Array<string | number>;
  message: string;
}

/** Every unknown placeholder in the strings of a service or job that placeholders are replaced in. */
export function unknownPlaceholders(container: PreviewService | PreviewJob): UnknownPlaceholder[] {
  return templatedStrings(container).flatMap(([path, text]) =>
    [...text.matchAll(PLACEHOLDER)]
      .filter((m) => !isPlaceholder(m[1]!))
      .map((m) => ({ path, message: `unknown placeholder ${m[0]} (known: ${PREVIEW_PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')})` })),
  );
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

/** Replaces the known placeholders in `text` (unknown ones were refused when the file was validated). */
export function renderPlaceholders(text: string, values: PlaceholderValues): string {
  return text.replace(PLACEHOLDER, (whole, name: string) => (isPlaceholder(name) ? values[name] : whole));
}

/** `{{branch_slug}}`: the branch name folded to a DNS label (a fork's branch name is data, never syntax). */
export function branchSlug(branch: string): string {
  return slugify(branch).slice(0, 63).replace(/-+$/, '') || 'branch';
}
