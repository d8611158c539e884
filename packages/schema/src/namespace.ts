import { createHash } from 'node:crypto';
import { repositoryKey } from './repository-identity.js';

/** Kubernetes namespace names are DNS-1123 labels. */
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const MAX_NAMESPACE_LENGTH = 63;
const HASH_LENGTH = 10;

/**
 * The Kubernetes namespace of a pull request's preview: `pr-<number>-<repo>-<hash>`.
 *
 * The readable part is the repository name folded to `[a-z0-9-]` (accents stripped, anything else a dash) and
 * cut so the whole stays within 63 characters. The readable part alone is not unique (`acme/api` and
 * `other/api`, `my.repo` and `my_repo` fold alike), so a hash follows it: of GitHub's repository id, which a rename
 * or a transfer keeps (a new repository taking the old name gets other namespaces), or, for environments made
 * before the id was kept, of the lowercased full name (GitHub treats names case-insensitively).
 *
 * @example namespaceFor('acme/web-app', 42, 1296269) // 'pr-42-web-app-<hash of the id>'
 */
export function namespaceFor(repositoryFullName: string, prNumber: number, repositoryId: number | bigint | null = null): string {
  if (!Number.isInteger(prNumber) || prNumber < 1) throw new RangeError(`invalid pull request number: ${prNumber}`);
  const fullName = repositoryFullName.trim();
  if (!fullName.includes('/')) throw new RangeError(`repository name must be owner/name: ${repositoryFullName}`);
  const repo = fullName.slice(fullName.lastIndexOf('/') + 1);
  const hash = createHash('sha256').update(repositoryKey({ repositoryId, repositoryFullName: fullName })).digest('hex').slice(0, HASH_LENGTH);
  const prefix = `pr-${prNumber}-`;
  const room = MAX_NAMESPACE_LENGTH - prefix.length - 1 - HASH_LENGTH;
  const slug = slugify(repo).slice(0, room).replace(/-+$/, '') || 'repo';
  return `${prefix}${slug}-${hash}`;
}

/**
 * The shape of every name {@link namespaceFor} gives: `pr-`, the pull request's number (no leading zero),
 * the folded repository name (`[a-z0-9]` runs joined by single dashes, never empty: `repo` stands in), and the
 * 10 lowercase hex characters of the hash. The 63-character limit is not in the pattern (RE2, which CEL's
 * `matches` uses, has no lookahead): check the length apart, as `isValidNamespace` does.
 *
 * deploy/kubernetes/base/admission-policy.yaml holds this pattern's `source` in a CEL `matches()` (RE2 and
 * JavaScript read it alike: no lookaround, backreference or flag), and packages/deploy's tests keep the two
 * identical.
 */
export const PREVIEW_NAMESPACE_PATTERN = /^pr-[1-9][0-9]*-[a-z0-9]+(?:-[a-z0-9]+)*-[0-9a-f]{10}$/;
/** {@link PREVIEW_NAMESPACE_PATTERN} as text, as a CEL expression writes it. */
export const PREVIEW_NAMESPACE_PATTERN_SOURCE = PREVIEW_NAMESPACE_PATTERN.source;

export function slugify(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '') // combining marks left by NFKD: "café" → "cafe"
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

export function isValidNamespace(name: string): boolean {
  return name.length <= MAX_NAMESPACE_LENGTH && DNS1123_LABEL.test(name);
}
