import { Prisma } from './generated/prisma/client.js';
import { repositoryKey, repositoryKeySql, type RepositoryRef } from './repository-identity.js';

/**
 * A pull request, keyed on GitHub's numeric repository id (which survives renames and transfers). The full name
 * is data: it is kept current from each event and is how rows made before the id was kept are found.
 */
export interface PullRequestKey extends RepositoryRef {
  prNumber: number;
}

/**
 * The advisory lock key that serialises every state change of one pull request across workers. Rows made before
 * the repository id was kept are locked by name; {@link LOCK_KEY_SQL} computes the same key from an environment
 * row `e` (a test holds the two to each other).
 */
export function pullRequestLockKey(key: PullRequestKey): string {
  return `${repositoryKey(key)}#${key.prNumber}`;
}
export const LOCK_KEY_SQL = Prisma.sql`(${repositoryKeySql('e')}) || '#' || e.pr_number`;
