import { createHash } from 'node:crypto';

/** Kubernetes namespace names are DNS-1123 labels. */
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const MAX_NAMESPACE_LENGTH = 63;
const HASH_LENGTH = 10;

/**
 * The Kubernetes namespace of a pull request's preview: `pr-<number>-<repo>-<hash>`.
 *
 * The readable part is the repository name folded to `[a-z0-9-]` (accents stripped, anything else a dash) and
 * cut so the whole stays within 63 characters. The readable part alone is not unique (`acme/api` and
 * `other/api`, `my.repo` and `my_repo` fold alike), so a hash of the full repository name follows it. GitHub
 * treats repository names case-insensitively, so the hash is over the lowercased name: `Acme/API` and
 * `acme/api` are the same repository and get the same namespace.
 *
 * @example namespaceFor('acme/web-app', 42) // 'pr-42-web-app-1f3c9a0b7d'
 */
export function namespaceFor(repositoryFullName: string, prNumber: number): string {
  if (!Number.isInteger(prNumber) || prNumber < 1) throw new RangeError(`invalid pull request number: ${prNumber}`);
  const fullName = repositoryFullName.trim();
  if (!fullName.includes('/')) throw new RangeError(`repository name must be owner/name: ${repositoryFullName}`);
  const repo = fullName.slice(fullName.lastIndexOf('/') + 1);
  const hash = createHash('sha256').update(fullName.toLowerCase()).digest('hex').slice(0, HASH_LENGTH);
  const prefix = `pr-${prNumber}-`;
  const room = MAX_NAMESPACE_LENGTH - prefix.length - 1 - HASH_LENGTH;
  const slug = slugify(repo).slice(0, room).replace(/-+$/, '') || 'repo';
  return `${prefix}${slug}-${hash}`;
}

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
