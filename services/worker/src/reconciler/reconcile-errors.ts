// Why a pull request event was not applied as it stands: each names what the caller does next.

/** An event of the same second as the last applied one that disagrees with it: GitHub is asked which is current. */
export class SameSecondConflict extends Error {
  override readonly name = 'SameSecondConflict';
}

/** An optimistic application found the pull request changed since it read it: it is read and decided again. */
export class ConcurrentChange extends Error {
  override readonly name = 'ConcurrentChange';
}

/**
 * A review's approval or dismissal in an event older than what was applied: the approval is bound to the commit
 * reviewed, not to the event's snapshot, so it is applied to GitHub's record of the pull request as it is now.
 */
export class StaleApproval extends Error {
  override readonly name = 'StaleApproval';
}

/** What only a transaction under the pull request's lock may decide (a row from before ids were kept, a repository's capacity). */
export class NeedsTransaction extends Error {
  override readonly name = 'NeedsTransaction';
}
