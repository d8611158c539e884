/**
 * A repository as rows and events name it: GitHub's numeric id when it is known (it survives renames and
 * transfers), and its full name, which rows made before the id was kept are found by.
 */
export interface RepositoryRef {
  repositoryId: bigint | number | null;
  repositoryFullName: string;
}

// "The same repository", defined once. It lives here rather than in @ephemera/db because the namespace name
// (namespace.ts, no I/O) hashes the same identity and this package may not depend on the data layer;
// @ephemera/db re-exports it beside its SQL and Prisma twins (repository-identity.ts there).

/**
 * The repository's identity as text: its id when known, else its full name in lower case (GitHub compares owner
 * and repository names case-insensitively). The two cannot be confused: a full name always holds a `/`.
 *
 * @example repositoryIdentity({ repositoryId: null, repositoryFullName: 'Acme/Web' }) // 'acme/web'
 */
export function repositoryIdentity(repo: RepositoryRef): string {
  return repo.repositoryId !== null ? String(repo.repositoryId) : repo.repositoryFullName.toLowerCase();
}

/**
 * The key that names a repository in lock keys and namespace hashes: `repository:<id>`, or the lowercased full
 * name for a repository whose id is not known. Its form is fixed: advisory locks of running workers and the names
 * of existing namespaces are derived from it.
 */
export function repositoryKey(repo: RepositoryRef): string {
  return repo.repositoryId !== null ? `repository:${repo.repositoryId}` : repositoryIdentity(repo);
}

/**
 * Whether two references name the same repository: by id when both carry one, else by full name compared
 * case-insensitively (a row made before ids were kept, or an event without one).
 */
export function sameRepository(a: RepositoryRef, b: RepositoryRef): boolean {
  if (a.repositoryId !== null && b.repositoryId !== null) return BigInt(a.repositoryId) === BigInt(b.repositoryId);
  return a.repositoryFullName.toLowerCase() === b.repositoryFullName.toLowerCase();
}
