import { Prisma } from './generated/prisma/client.js';

/**
 * A pull request, keyed on GitHub's numeric repository id (which survives renames and transfers). The full name
 * is data: it is kept current from each event and is how rows made before the id was kept are found.
 */
export interface PullRequestKey {
  repositoryId: bigint | number | null;
  repositoryFullName: string;
  prNumber: number;
}

/**
 * The advisory lock key that serialises every state change of one pull request across workers. Rows made before
 * the repository id was kept are locked by name; {@link LOCK_KEY_SQL} computes the same key from an environment
 * row `e` (a test holds the two to each other).
 */
export function pullRequestLockKey(key: PullRequestKey): string {
  return key.repositoryId !== null ? `repository:${key.repositoryId}#${key.prNumber}` : `${key.repositoryFullName.toLowerCase()}#${key.prNumber}`;
}
export const LOCK_KEY_SQL = Prisma.raw(
  `CASE WHEN e.repository_id IS NOT NULL THEN 'repository:' || e.repository_id || '#' || e.pr_number ELSE lower(e.repository_full_name) || '#' || e.pr_number END`,
);
