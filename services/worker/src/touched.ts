/** A pull request whose state a transaction changed, and what its follow-up jobs need to know. */
export interface Touched {
  repositoryFullName: string;
  prNumber: number;
  installationId: number | null;
  /** Deployments this change ended as superseded; GitHub hears about each. */
  superseded: number[];
  /** A sentence for the PR comment (why a preview was held or destroyed). */
  note: string | null;
  /** The event was older than what was already applied, and changed nothing. */
  stale?: boolean;
}
