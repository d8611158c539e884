import { createHash } from 'node:crypto';
import type { PrismaClient, PullRequestKey } from '@ephemera/db';
import type { GithubFeedback, RepoRef } from '../github/github-feedback.js';

/** What finds the pull request's one comment among others. */
export const MARKER = '<!-- ephemera:preview -->';

/** A claim to create the comment older than this is taken over (its job died between claiming and recording). */
const CLAIM_MS = 60_000;

/** Another job is creating the PR's comment (one that died holding the claim): this job is retried. */
export class CommentBeingCreated extends Error {
  override readonly name = 'CommentBeingCreated';
}

type StateRow = { id: bigint; commentId: bigint | null; commentDigest: string | null } | null;

/**
 * Brings the pull request's one comment up to date, without holding a lock over GitHub calls; returns the digest of
 * what it wrote (null when it wrote nothing). An unchanged text is not sent again. When no id is recorded, the job
 * claims the creation (a short-lived claim in the database) and looks for the comment by its marker before creating
 * one, so a crash between creating it and recording it does not make a second.
 */
export async function syncComment(db: PrismaClient, github: GithubFeedback, ref: RepoRef, key: PullRequestKey, state: StateRow, body: string): Promise<string | null> {
  const digest = createHash('sha256').update(body).digest('hex').slice(0, 32);
  if (!github.enabled) {
    // Feedback is off: what would be written is logged, and nothing is claimed or recorded.
    await github.createComment(ref, key.prNumber, body);
    return null;
  }
  if (state?.commentId != null) {
    if (state.commentDigest === digest) return null;
    if (await github.updateComment(ref, Number(state.commentId), body)) return digest;
    // Someone deleted it: a new one replaces it.
    await db.pullRequestState.updateMany({ where: { id: state.id, commentId: state.commentId }, data: { commentId: null, commentDigest: null } });
  }
  const created = await createComment(db, github, ref, key, state?.id ?? null, body);
  if (created === 'busy') throw new CommentBeingCreated(`the comment of ${key.repositoryFullName}#${key.prNumber} is being created by another job`);
  if (created === null) return null;
  // An existing comment (found by its marker, or recorded by another job meanwhile) still has its old text.
  if (!created.fresh) await github.updateComment(ref, created.id, body);
  return digest;
}

/**
 * Creates the PR's comment under a claim, or adopts the one its marker finds; returns its id and whether this job
 * wrote it (null: feedback off; `busy`: another job holds the claim).
 */
async function createComment(
  db: PrismaClient,
  github: GithubFeedback,
  ref: RepoRef,
  key: PullRequestKey,
  stateId: bigint | null,
  body: string,
): Promise<{ id: number; fresh: boolean } | null | 'busy'> {
  const now = new Date();
  let id = stateId;
  if (id === null) {
    // No state row yet (feedback before any event was applied): made with the claim in it.
    try {
      id = (
        await db.pullRequestState.create({
          data: { repositoryId: key.repositoryId === null ? null : BigInt(key.repositoryId), repositoryFullName: key.repositoryFullName, prNumber: key.prNumber, commentClaimedAt: now },
          select: { id: true },
        })
      ).id;
    } catch (err) {
      if ((err as { code?: string }).code === 'P2002') return 'busy';
      throw err;
    }
  } else {
    const { count } = await db.pullRequestState.updateMany({
      where: { id, commentId: null, OR: [{ commentClaimedAt: null }, { commentClaimedAt: { lt: new Date(now.getTime() - CLAIM_MS) } }] },
      data: { commentClaimedAt: now },
    });
    if (count === 0) {
      const state = await db.pullRequestState.findUnique({ where: { id }, select: { commentId: true } });
      return state?.commentId ? { id: Number(state.commentId), fresh: false } : 'busy';
    }
  }
  try {
    const found = await github.findComment(ref, key.prNumber, MARKER);
    const commentId = found ?? (await github.createComment(ref, key.prNumber, body));
    if (commentId === null) return null;
    await db.pullRequestState.updateMany({ where: { id, commentClaimedAt: now }, data: { commentId: BigInt(commentId), commentClaimedAt: null } });
    const recorded = await db.pullRequestState.findUniqueOrThrow({ where: { id }, select: { commentId: true } });
    const kept = recorded.commentId === null ? commentId : Number(recorded.commentId);
    return { id: kept, fresh: found === null && kept === commentId };
  } finally {
    // Whatever happened, this job's claim does not make others wait for it.
    await db.pullRequestState.updateMany({ where: { id, commentClaimedAt: now }, data: { commentClaimedAt: null } });
  }
}

