import { beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { PullRequestKey, PullRequestRecord, PullRequestWrite } from '@ephemera/db';
import type { HandlerContext } from '../../src/handlers/handler.js';
import { HEAD, environment, prJob, prState, record, reviewJob, settings } from './fixtures.js';

// reconcilePullRequest's reads and its one write, against a fake of the database: what is locked, read and written
// in which order, and what the caller is told.

const calls: string[] = [];
let records: PullRequestRecord[] = [];
let writes: Array<{ write: PullRequestWrite; options: object }> = [];
let outcome: 'applied' | 'duplicate' | 'conflict' = 'applied';
const WRITTEN = { environment: { id: 10, status: 'PENDING' as const, waitingSince: null, installationId: 99n }, latest: { id: 4, status: 'QUEUED' as const } };
const keyText = (key: PullRequestKey) => `${key.repositoryId ?? 'by name'} ${key.repositoryFullName}#${key.prNumber}`;

jest.unstable_mockModule('@ephemera/db', () => ({
  lockPullRequest: async (_tx: unknown, key: PullRequestKey) => void calls.push(`lock ${keyText(key)}`),
  readPullRequest: async () => (calls.push('read'), records.shift() ?? record()),
  writePullRequest: async (_tx: unknown, write: PullRequestWrite, options: object) => {
    calls.push('write');
    writes.push({ write, options });
    return { outcome, ...WRITTEN };
  },
  getOrCreateUser: async (_tx: unknown, user: { githubId: number; githubLogin: string }) => (calls.push(`user ${user.githubId} ${user.githubLogin}`), { id: 3 }),
}));
jest.unstable_mockModule('../../src/repository-capacity.js', () => ({
  lockRepository: async (_tx: unknown, key: PullRequestKey) => void calls.push(`lockRepository ${keyText(key)}`),
  placesTaken: async (_tx: unknown, key: PullRequestKey, exceptId?: number) => (calls.push(`placesTaken ${keyText(key)} ${exceptId}`), 0),
  waitingAhead: async (_tx: unknown, key: PullRequestKey) => (calls.push(`waitingAhead ${keyText(key)}`), 0),
  waitingNote: (limit: number, position: number) => `waiting: ${limit} ${position}`,
}));

const { ConcurrentChange, NeedsTransaction, StaleApproval, pullRequestKey, reconcilePullRequest } = await import('../../src/pull-request-reconciler.js');

const KEY = { repositoryId: 500, repositoryFullName: 'acme/app', prNumber: 7 };
const ctx = (over: Partial<HandlerContext> = {}): HandlerContext =>
  ({ tx: {}, settings, logger: {}, facts: { senderTrusted: true, installationState: null, confirmedRemoved: null }, ...over }) as HandlerContext;
const optimistic = { delivery: { deliveryId: 'd', event: 'pull_request', action: 'opened' } };

beforeEach(() => {
  calls.length = 0;
  records = [];
  writes = [];
  outcome = 'applied';
});

describe(reconcilePullRequest.name, () => {
  it('locks the pull request, reads it, and writes the environment it should have in one statement', async () => {
    const touched = await reconcilePullRequest(ctx(), prJob());
    expect(calls).toEqual(['lock 500 acme/app#7', 'read', 'user 42 author', 'write']);
    expect(touched).toEqual({ key: KEY, installationId: 99, ...WRITTEN });
    expect(pullRequestKey(prJob())).toEqual(KEY);
    const { write, options } = writes[0]!;
    expect(options).toStrictEqual({});
    expect(write.key).toEqual(KEY);
    expect(write.environment).toEqual({
      insert: {
        repositoryName: 'app',
        prTitle: 'Add the thing',
        branchName: 'feature/thing',
        commitSha: HEAD,
        namespace: expect.stringMatching(/^pr-7-app-[0-9a-f]{10}$/),
        environmentUrl: expect.stringMatching(/^https:\/\/pr-7-app-[0-9a-f]{10}\.preview\.example\.test$/),
        installationId: 99n,
        ownerId: 3,
        baseSha: prJob().pullRequest.baseSha,
        fromFork: false,
        waitingSince: null,
        status: 'PENDING',
      },
    });
  });

  it('takes the URL scheme from the settings, marks a repository webhook\'s installation 0, and passes the log cap on', async () => {
    await reconcilePullRequest(ctx({ settings: { ...settings, previewUrlScheme: 'http', logMaxBytes: 1024 } }), prJob({ installationId: null, fork: true }));
    const { write, options } = writes[0]!;
    expect(write.environment).toMatchObject({ insert: { environmentUrl: expect.stringMatching(/^http:\/\//), installationId: 0n, fromFork: true } });
    expect(options).toEqual({ logMaxBytes: 1024 });
  });

  it('leaves the lock to a caller that holds it', async () => {
    await reconcilePullRequest(ctx({ locked: true }), prJob());
    expect(calls).toEqual(['read', 'user 42 author', 'write']);
  });

  it('locks a row from before repository ids were kept by name too, and reads it again under that lock', async () => {
    records = [record({ state: prState({ repositoryId: null }) }), record({ environment: environment(), state: prState() })];
    await reconcilePullRequest(ctx(), prJob({ action: 'edited' }));
    expect(calls).toEqual(['lock 500 acme/app#7', 'read', 'lock by name acme/app#7', 'read', 'write']);
    expect(writes[0]!.write.from.environment).not.toBeNull();
    records = [record({ environment: environment({ repositoryId: null }) })];
    await expect(reconcilePullRequest(ctx({ optimistic }), prJob())).rejects.toThrow(new NeedsTransaction('a row from before repository ids were kept'));
  });

  it('writes nothing for a stale snapshot, and applies it when GitHub is the authority', async () => {
    const later = prState({ lastEventAt: new Date('2026-03-01T13:00:00Z') });
    records = [record({ environment: environment(), state: later })];
    expect(await reconcilePullRequest(ctx(), prJob({ action: 'edited' }))).toEqual({ key: KEY, installationId: 99, stale: true });
    expect(calls).toEqual(['lock 500 acme/app#7', 'read']);
    records = [record({ environment: environment(), state: later })];
    await reconcilePullRequest(ctx({ authority: 'github' }), prJob({ action: 'edited' }));
    expect(calls.at(-1)).toBe('write');
  });

  it('does not let an older event lose a fork\'s review approval', async () => {
    records = [record({ state: prState({ lastEventAt: new Date('2026-03-01T13:00:00Z') }) })];
    await expect(reconcilePullRequest(ctx(), reviewJob({ fork: true }), { by: 'review', change: 'granted', reviewId: 31, commitSha: HEAD, reviewer: 'reviewer' })).rejects.toThrow(StaleApproval);
  });

  it('holds a fork\'s head when the sender\'s trust was not asked', async () => {
    await reconcilePullRequest(ctx({ facts: { senderTrusted: null, installationState: null, confirmedRemoved: null } }), prJob({ fork: true }));
    expect(writes[0]!.write).toMatchObject({ environment: null, state: { heldSha: HEAD } });
  });

  it('counts the repository\'s places by its key', async () => {
    await reconcilePullRequest(ctx({ settings: { ...settings, maxEnvironmentsPerRepo: 1 } }), prJob());
    expect(calls).toEqual(['lock 500 acme/app#7', 'read', 'lockRepository 500 acme/app#7', 'placesTaken 500 acme/app#7 undefined', 'user 42 author', 'write']);
    records = [record({ environment: environment({ status: 'PENDING', waitingSince: new Date('2026-03-01T10:00:00Z') }), latest: { id: 4, status: 'QUEUED', commitSha: HEAD } })];
    await reconcilePullRequest(ctx({ settings: { ...settings, maxEnvironmentsPerRepo: 1 } }), prJob({ action: 'edited' }));
    expect(calls.at(-2)).toBe('waitingAhead 500 acme/app#7');
    expect(writes[1]!.write.state.note).toBe('waiting: 1 0');
  });

  describe('applied optimistically', () => {
    it('takes no lock and lets the write record the delivery', async () => {
      const touched = await reconcilePullRequest(ctx({ optimistic }), prJob());
      expect(calls).toEqual(['read', 'user 42 author', 'write']);
      expect(writes[0]!.options).toEqual({ optimistic });
      expect(touched).toEqual({ key: KEY, installationId: 99, ...WRITTEN });
    });

    it('leaves counting the repository\'s places to a transaction', async () => {
      await expect(reconcilePullRequest(ctx({ optimistic, settings: { ...settings, maxEnvironmentsPerRepo: 1 } }), prJob())).rejects.toThrow(NeedsTransaction);
      expect(calls).toEqual(['read']);
    });

    it('says when the pull request changed meanwhile, or the delivery was applied before', async () => {
      outcome = 'conflict';
      await expect(reconcilePullRequest(ctx({ optimistic }), prJob())).rejects.toThrow(new ConcurrentChange('acme/app#7 changed while this event was decided'));
      outcome = 'duplicate';
      expect(await reconcilePullRequest(ctx({ optimistic }), prJob())).toEqual({ key: KEY, installationId: 99, duplicate: true });
    });
  });
});
