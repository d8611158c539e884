import { describe, expect, it } from '@jest/globals';
import type { PullRequestRecord } from '@ephemera/db';
import type { PullRequestEventJob } from '@ephemera/schema';
import type { PreviewSettings } from '../../src/pull-request-reconciler.js';
import { keptDestroyed, needsDeployment, planWrite, type PlanIo } from '../../src/reconciler/desired-environment.js';
import { decideApproval, type ApprovalChange, type ApprovalDecision } from '../../src/reconciler/fork-approval.js';
import { NeedsTransaction } from '../../src/reconciler/reconcile-errors.js';
import { BEFORE, HEAD, OTHER, environment, prJob, prState, record, settings } from './fixtures.js';

// The write an event leads to, planned against a fake of the database's answers.

const KEY = { repositoryId: 500, repositoryFullName: 'acme/app', prNumber: 7 };
const NEW_ENVIRONMENT = {
  repositoryName: 'app',
  prTitle: 'Add the thing',
  branchName: 'feature/thing',
  commitSha: HEAD,
  namespace: 'pr-7-app-0123456789',
  environmentUrl: 'https://pr-7-app-0123456789.preview.example.test',
  installationId: 99n,
  ownerId: 3,
  baseSha: BEFORE,
  fromFork: false,
  waitingSince: null,
};

/** The database's answers, with what was asked of it. */
function fakeIo(places = 0, ahead = 0) {
  const asked: string[] = [];
  const io: PlanIo = {
    newEnvironment: async () => (asked.push('newEnvironment'), { ...NEW_ENVIRONMENT }),
    lockRepository: async () => void asked.push('lockRepository'),
    placesTaken: async (exceptId) => (asked.push(`placesTaken ${exceptId}`), places),
    waitingAhead: async (since) => (asked.push(`waitingAhead ${since.toISOString()}`), ahead),
  };
  return { io, asked };
}

interface Case {
  job?: PullRequestEventJob;
  record?: PullRequestRecord;
  settings?: PreviewSettings;
  decision?: Partial<ApprovalDecision>;
  approval?: ApprovalChange;
  optimistic?: boolean;
  io?: ReturnType<typeof fakeIo>;
}

async function plan(c: Case = {}) {
  const job = c.job ?? prJob();
  const rec = c.record ?? record();
  const s = c.settings ?? settings;
  const decided = decideApproval({ job, state: rec.state, settings: s, approval: c.approval, senderTrusted: true });
  const { io, asked } = c.io ?? fakeIo();
  const write = await planWrite({ key: KEY, job, record: rec, settings: s, decision: { ...decided, ...c.decision }, optimistic: c.optimistic ?? false }, io);
  return { write, asked };
}

describe(planWrite.name, () => {
  it('makes the environment of an opened pull request with its first deployment', async () => {
    const { write, asked } = await plan();
    // The stored state is the fixture's, at the event's time; what is written carries the installation, not the id.
    const { repositoryId: _, ...state } = prState({ lastEventAt: new Date('2026-03-01T12:00:00Z') });
    expect(write).toEqual({
      key: KEY,
      from: record(),
      supersede: null,
      environment: { insert: { ...NEW_ENVIRONMENT, status: 'PENDING', waitingSince: null } },
      deployment: { commitSha: HEAD, commitMessage: 'Add the thing' },
      state: { ...state, installationId: 99n },
    });
    expect(asked).toEqual(['newEnvironment']);
  });

  it('keeps the later of the event\'s time and the last applied one, and notes a repository webhook', async () => {
    const later = new Date('2026-03-01T12:30:00Z');
    const { write } = await plan({ job: prJob({ installationId: null }), record: record({ state: prState({ lastEventAt: later }) }) });
    expect(write.state).toMatchObject({ lastEventAt: later, installationId: null, note: 'This repository sends webhooks directly rather than through the Ephemera GitHub App.' });
    const earlier = await plan({ record: record({ state: prState({ lastEventAt: new Date('2026-03-01T11:00:00Z') }) }) });
    expect(earlier.write.state.lastEventAt).toEqual(new Date('2026-03-01T12:00:00Z'));
  });

  it('updates an environment\'s fields from the event, the new head deployed', async () => {
    const rec = record({ environment: environment({ commitSha: OTHER }), latest: { id: 4, status: 'SUCCESS', commitSha: OTHER }, active: [4] });
    const { write, asked } = await plan({ job: prJob({ action: 'synchronize', baseSha: null, installationId: null }), record: rec });
    expect(write.environment).toEqual({ update: { repositoryName: 'app', prTitle: 'Add the thing', branchName: 'feature/thing', fromFork: false, commitSha: HEAD } });
    expect(write.supersede).toEqual({ ids: [4], reason: 'superseded by 1111111' });
    expect(write.deployment).toEqual({ commitSha: HEAD, commitMessage: 'Add the thing' });
    expect(asked).toEqual([]);
    const { write: again } = await plan({ job: prJob({ action: 'edited' }), record: record({ environment: environment(), latest: { id: 4, status: 'SUCCESS', commitSha: HEAD } }) });
    expect(again.environment).toEqual({ update: { repositoryName: 'app', prTitle: 'Add the thing', branchName: 'feature/thing', fromFork: false, baseSha: BEFORE, commitSha: HEAD, installationId: 99n } });
    expect(again.deployment).toBeNull();
    expect(again.supersede).toBeNull();
  });

  it('brings a destroyed or failed environment back as PENDING, and redeploys a DESTROYING one without a status', async () => {
    for (const status of ['DESTROYED', 'FAILED'] as const) {
      const { write } = await plan({ record: record({ environment: environment({ status }), latest: { id: 4, status: 'SUCCESS', commitSha: HEAD } }) });
      expect(write.environment).toMatchObject({ status: 'PENDING' });
      expect(write.deployment).not.toBeNull();
    }
    const { write } = await plan({ record: record({ environment: environment({ status: 'DESTROYING' }), latest: { id: 4, status: 'SUCCESS', commitSha: HEAD } }) });
    expect(write.environment).not.toHaveProperty('status');
    expect(write.deployment).toEqual({ commitSha: HEAD, commitMessage: 'Add the thing' });
  });

  describe('a pull request closed, a draft, or without the preview label', () => {
    const closing = async (job: PullRequestEventJob, status: 'READY' | 'PENDING' | 'FAILED' | 'DESTROYING' | 'DESTROYED', s = settings) =>
      (await plan({ job, settings: s, record: record({ environment: environment({ status }), active: [8, 9] }) })).write;

    it('removes a live preview, saying why and how to bring it back', async () => {
      const closed = await closing(prJob({ action: 'closed', state: 'closed' }), 'READY');
      expect(closed.supersede).toEqual({ ids: [8, 9], reason: 'pull request closed' });
      expect(closed.environment).toMatchObject({ status: 'DESTROYING', update: { commitSha: HEAD } });
      expect(closed.state.note).toBe('The pull request was closed, so its preview is being removed. Reopen it to bring the preview back.');
      expect((await closing(prJob({ action: 'converted_to_draft', draft: true }), 'PENDING')).state.note).toBe(
        'The pull request is a draft, so its preview is being removed. Mark it ready for review to bring it back.',
      );
      const unlabeled = await closing(prJob({ action: 'unlabeled' }), 'FAILED', { ...settings, previewLabel: 'preview' });
      expect(unlabeled.state.note).toBe('The `preview` label was removed, so the preview is being removed. Add it again to bring it back.');
      expect(unlabeled.environment).toMatchObject({ status: 'DESTROYING' });
      for (const status of ['PROVISIONING', 'UPDATING'] as const) {
        const { write } = await plan({ job: prJob({ action: 'closed', state: 'closed' }), record: record({ environment: environment({ status }), active: [8] }) });
        expect(write.environment).toMatchObject({ status: 'DESTROYING' });
        expect(write.supersede).toEqual({ ids: [8], reason: 'pull request closed' });
      }
    });

    it('voids the deployment a reopen queued while the environment is being destroyed, and leaves a destroyed one alone', async () => {
      const destroying = await closing(prJob({ action: 'closed', state: 'closed' }), 'DESTROYING');
      expect(destroying.supersede).toEqual({ ids: [8, 9], reason: 'pull request closed' });
      expect(destroying.environment).not.toHaveProperty('status');
      expect(destroying.state.note).toBeNull();
      const destroyed = await closing(prJob({ action: 'closed', state: 'closed' }), 'DESTROYED');
      expect(destroyed.supersede).toBeNull();
      expect(destroyed.environment).not.toHaveProperty('status');
      expect(destroyed.deployment).toBeNull();
    });

    it('makes and tears down the record of a pull request closed before its environment was made', async () => {
      const { write, asked } = await plan({ job: prJob({ action: 'closed', state: 'closed' }) });
      expect(write.environment).toEqual({ insert: { ...NEW_ENVIRONMENT, status: 'DESTROYING' } });
      expect(write.deployment).toBeNull();
      expect(asked).toEqual(['newEnvironment']);
      for (const c of [
        { job: prJob({ action: 'closed', state: 'closed', draft: true }) },
        { job: prJob({ action: 'closed', state: 'closed' }), settings: { ...settings, previewLabel: 'preview' } },
        { job: prJob({ action: 'closed', state: 'closed', fork: true }), decision: { approved: false } },
        { job: prJob({ action: 'converted_to_draft', draft: true }) },
      ]) {
        expect((await plan(c)).write.environment).toBeNull();
      }
    });

    it('wants a pull request with the preview label when one is set', async () => {
      const labelled = await plan({ job: prJob({ labels: ['preview'] }), settings: { ...settings, previewLabel: 'preview' } });
      expect(labelled.write.environment).toMatchObject({ insert: { status: 'PENDING' } });
    });
  });

  describe('a fork\'s head not approved', () => {
    const fork = (over: Partial<ApprovalDecision> = {}) => ({ approved: false, fromFork: true, how: 'adds the label', ...over });

    it('holds a new pull request\'s preview until a maintainer approves it', async () => {
      const { write } = await plan({ job: prJob({ fork: true }), decision: fork() });
      expect(write.environment).toBeNull();
      expect(write.deployment).toBeNull();
      expect(write.state.heldSha).toBe(HEAD);
      expect(write.state.note).toBe('This pull request comes from a fork, so its preview waits for approval: someone with write access to acme/app adds the label to deploy `1111111`.');
    });

    it('keeps a running preview on the approved commit while new commits wait', async () => {
      const rec = record({ environment: environment({ commitSha: OTHER, fromFork: true }), latest: { id: 4, status: 'SUCCESS', commitSha: OTHER } });
      const { write } = await plan({ job: prJob({ fork: true, action: 'synchronize' }), record: rec, decision: fork({ refusal: null }) });
      expect(write.state.note).toBe('New commits from a fork need approval before they are deployed: someone with write access adds the label to deploy `1111111`.');
      expect(write.environment).toEqual({ update: { repositoryName: 'app', prTitle: 'Add the thing', branchName: 'feature/thing', fromFork: true, baseSha: BEFORE, installationId: 99n } });
      expect(write.deployment).toBeNull();
      expect(write.supersede).toBeNull();
    });

    it('says why a refused approval deployed nothing', async () => {
      const { write } = await plan({ job: prJob({ fork: true }), decision: fork({ refusal: 'Refused.' }) });
      expect(write.state.note).toBe('Refused. Someone with write access adds the label to deploy `1111111`.');
    });

    it('removes a live preview whose approval was withdrawn, and only holds one that is gone', async () => {
      const live = record({ environment: environment({ status: 'READY' }), active: [4] });
      const { write } = await plan({ job: prJob({ fork: true }), record: live, decision: fork({ withdrawn: 'Withdrawn.' }) });
      expect(write.supersede).toEqual({ ids: [4], reason: 'approval withdrawn' });
      expect(write.environment).toMatchObject({ status: 'DESTROYING' });
      expect(write.state).toMatchObject({ heldSha: HEAD, note: 'Withdrawn. Someone with write access adds the label to deploy `1111111`.' });
      const gone = record({ environment: environment({ status: 'DESTROYED' }), active: [4] });
      const held = (await plan({ job: prJob({ fork: true }), record: gone, decision: fork({ withdrawn: 'Withdrawn.' }) })).write;
      expect(held.supersede).toBeNull();
      expect(held.environment).not.toHaveProperty('status');
      expect(held.state.note).toBe('New commits from a fork need approval before they are deployed: someone with write access adds the label to deploy `1111111`.');
      const none = (await plan({ job: prJob({ fork: true }), decision: fork({ withdrawn: 'Withdrawn.' }) })).write;
      expect(none.state.note).toMatch(/^This pull request comes from a fork/);
    });
  });

  describe('MAX_ENVIRONMENTS_PER_REPO', () => {
    const limited = { ...settings, maxEnvironmentsPerRepo: 2 };

    it('counts a new environment\'s place under the repository\'s lock, and starts it when there is room', async () => {
      const { write, asked } = await plan({ settings: limited, io: fakeIo(1) });
      expect(asked).toEqual(['lockRepository', 'placesTaken undefined', 'newEnvironment']);
      expect(write.environment).toMatchObject({ insert: { status: 'PENDING', waitingSince: null } });
      expect(write.state.note).toBeNull();
    });

    it('keeps a new environment waiting when the repository is full, saying how many wait ahead', async () => {
      const before = Date.now();
      const { write, asked } = await plan({ settings: limited, io: fakeIo(2, 1) });
      const since = (write.environment as { insert: { waitingSince: Date } }).insert.waitingSince;
      expect(since.getTime()).toBeGreaterThanOrEqual(before);
      expect(asked).toEqual(['lockRepository', 'placesTaken undefined', 'newEnvironment', `waitingAhead ${since.toISOString()}`]);
      expect(write.state.note).toBe(
        'This repository already has 2 previews, the most this installation runs at once (MAX_ENVIRONMENTS_PER_REPO). This one starts by itself when another is removed (1 waiting ahead of it).',
      );
    });

    it('counts a destroyed environment coming back, itself aside, and marks it waiting when full', async () => {
      const rec = record({ environment: environment({ status: 'DESTROYED' }), latest: { id: 4, status: 'SUCCESS', commitSha: HEAD } });
      const { write, asked } = await plan({ settings: limited, record: rec, io: fakeIo(2) });
      expect(asked.slice(0, 2)).toEqual(['lockRepository', 'placesTaken 10']);
      const update = write.environment as { update: { waitingSince?: Date }; status?: string };
      expect(update.update.waitingSince).toBeInstanceOf(Date);
      expect(update.status).toBe('PENDING');
      const room = (await plan({ settings: limited, record: rec, io: fakeIo(1) })).write.environment as { update: { waitingSince?: Date | null } };
      expect(room.update).not.toHaveProperty('waitingSince');
    });

    it('counts nothing for a live environment or without a limit, but keeps a waiting one\'s note current', async () => {
      const waitingSince = new Date('2026-03-01T10:00:00Z');
      const rec = record({ environment: environment({ status: 'PENDING', waitingSince }), latest: { id: 4, status: 'QUEUED', commitSha: HEAD } });
      const { write, asked } = await plan({ settings: limited, record: rec, io: fakeIo(5, 0) });
      expect(asked).toEqual([`waitingAhead ${waitingSince.toISOString()}`]);
      expect(write.state.note).toBe(
        'This repository already has 2 previews, the most this installation runs at once (MAX_ENVIRONMENTS_PER_REPO). This one starts by itself when another is removed.',
      );
      expect((await plan({ record: record({ environment: environment({ status: 'DESTROYED' }) }) })).asked).toEqual([]);
      expect((await plan({ settings: { ...settings, maxEnvironmentsPerRepo: 0 } })).asked).toEqual(['newEnvironment']);
    });

    it('leaves counting to a transaction when applied optimistically', async () => {
      await expect(plan({ settings: limited, optimistic: true })).rejects.toThrow(new NeedsTransaction('counting places under MAX_ENVIRONMENTS_PER_REPO'));
      await expect(plan({ optimistic: true })).resolves.toBeDefined();
    });
  });

  it('keeps a preview destroyed on request destroyed, with the note that says why', async () => {
    const rec = record({
      environment: environment({ status: 'DESTROYED', lastAction: 'destroy' }),
      state: prState({ note: 'Destroyed from the dashboard.', lastEventAt: new Date('2026-03-01T11:00:00Z') }),
      latest: { id: 4, status: 'SUCCESS', commitSha: HEAD },
    });
    const { write, asked } = await plan({ job: prJob({ action: 'edited' }), record: rec, settings: { ...settings, maxEnvironmentsPerRepo: 1 } });
    expect(asked).toEqual([]);
    expect(write.deployment).toBeNull();
    expect(write.state.note).toBe('Destroyed from the dashboard.');
    expect(write.environment).not.toHaveProperty('status');
    const stateless = await plan({ job: prJob({ action: 'edited' }), record: { ...rec, state: null } });
    expect(stateless.write.state.note).toBeNull();
    const back = await plan({ job: prJob({ action: 'labeled', labels: ['preview-approved'] }), record: rec, approval: { by: 'label', change: 'granted' } });
    expect(back.write.deployment).not.toBeNull();
  });
});

describe(needsDeployment.name, () => {
  const rec = (status: 'READY' | 'DESTROYED' | 'DESTROYING' | 'FAILED', latest: PullRequestRecord['latest']) => record({ environment: environment({ status }), latest });

  it('deploys another commit, or the same one again when it failed or the environment comes back', () => {
    expect(needsDeployment(rec('READY', null), HEAD)).toBe(true);
    expect(needsDeployment(rec('READY', { id: 1, status: 'SUCCESS', commitSha: OTHER }), HEAD)).toBe(true);
    expect(needsDeployment(rec('READY', { id: 1, status: 'SUCCESS', commitSha: HEAD }), HEAD)).toBe(false);
    expect(needsDeployment(rec('READY', { id: 1, status: 'FAILED', commitSha: HEAD }), HEAD)).toBe(true);
    for (const status of ['DESTROYED', 'DESTROYING', 'FAILED'] as const) expect(needsDeployment(rec(status, { id: 1, status: 'SUCCESS', commitSha: HEAD }), HEAD)).toBe(true);
  });

  it('needs none when a reopen\'s deployment is already queued behind the destroy', () => {
    expect(needsDeployment(rec('DESTROYING', { id: 1, status: 'QUEUED', commitSha: HEAD }), HEAD)).toBe(false);
    expect(needsDeployment(rec('DESTROYED', { id: 1, status: 'QUEUED', commitSha: HEAD }), HEAD)).toBe(true);
    expect(needsDeployment(rec('DESTROYING', { id: 1, status: 'QUEUED', commitSha: OTHER }), HEAD)).toBe(true);
  });
});

describe(keptDestroyed.name, () => {
  const destroyed = (over: Partial<ReturnType<typeof environment>> = {}, state = prState()) =>
    record({ environment: environment({ status: 'DESTROYED', lastAction: 'destroy', ...over }), state });
  const kept = (job: PullRequestEventJob, rec = destroyed(), granted = false, s: PreviewSettings = settings) => keptDestroyed(rec, job, s, granted);

  it('keeps a preview destroyed on request through an edit or another label', () => {
    expect(kept(prJob({ action: 'edited' }))).toBe(true);
    expect(kept(prJob({ action: 'labeled', label: 'bug' }))).toBe(true);
    expect(kept(prJob({ action: 'edited' }), destroyed({ status: 'DESTROYING' }))).toBe(true);
    expect(kept(prJob({ action: 'labeled', label: 'preview' }))).toBe(true);
    expect(kept(prJob({ action: 'labeled', label: 'bug' }), destroyed(), false, { ...settings, previewLabel: 'preview' })).toBe(true);
    expect(kept(prJob({ action: 'edited' }), record({ environment: environment({ status: 'DESTROYED', lastAction: 'destroy' }), state: null }))).toBe(true);
  });

  it('brings it back on a push, a reopen, ready for review, the preview label or an approval', () => {
    for (const action of ['opened', 'reopened', 'synchronize', 'ready_for_review'] as const) expect(kept(prJob({ action }))).toBe(false);
    expect(kept(prJob({ action: 'edited', headSha: OTHER }))).toBe(false);
    expect(kept(prJob({ action: 'edited' }), destroyed({}, prState({ lastPrState: 'closed' })))).toBe(false);
    expect(kept(prJob({ action: 'edited' }), destroyed(), true)).toBe(false);
    expect(kept(prJob({ action: 'labeled', label: 'preview' }), destroyed(), false, { ...settings, previewLabel: 'preview' })).toBe(false);
    expect(kept(prJob({ action: 'unlabeled', label: 'preview' }), destroyed(), false, { ...settings, previewLabel: 'preview' })).toBe(true);
  });

  it('applies only to an environment destroyed on request', () => {
    expect(kept(prJob({ action: 'edited' }), destroyed({ lastAction: 'redeploy' }))).toBe(false);
    expect(kept(prJob({ action: 'edited' }), destroyed({ status: 'READY' }))).toBe(false);
    expect(kept(prJob({ action: 'edited' }), record())).toBe(false);
  });
});
