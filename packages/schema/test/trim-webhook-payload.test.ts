import { describe, expect, it } from '@jest/globals';
import { exampleEventNames, webhookExamples } from '@ephemera/testkit';
import { PayloadError, trimWebhookPayload, webhookJobSchema } from '../src/index.js';

const meta = (event: string) => ({
  event,
  deliveryId: '72d3162e-cc78-11e3-81ab-4c9367dc0958',
  receivedAt: new Date('2026-01-01T00:00:00Z'),
});

describe(trimWebhookPayload.name, () => {
  it('turns every example GitHub publishes of what the worker acts on into a job the job schema accepts, and ignores the rest', () => {
    // Written out here rather than read from HANDLED_EVENTS, which decides what trimWebhookPayload keeps.
    const actedOn = [
      'pull_request.opened', 'pull_request.reopened', 'pull_request.synchronize', 'pull_request.closed',
      'pull_request.edited', 'pull_request.labeled', 'pull_request.unlabeled', 'pull_request.ready_for_review',
      'pull_request.converted_to_draft', 'pull_request_review.submitted', 'pull_request_review.dismissed',
      'installation.deleted', 'installation.suspend', 'installation.unsuspend',
      'installation_repositories.removed', 'check_run.completed', 'check_suite.completed', 'workflow_run.completed',
      'status.undefined',
    ];
    const jobs = new Set<string>();
    let ignored = 0;
    for (const event of exampleEventNames()) {
      for (const example of webhookExamples(event)) {
        const name = `${event}.${String(example.action)}`;
        const job = trimWebhookPayload(meta(event), example);
        expect(`${name}: ${job === null ? 'ignored' : 'a job'}`).toBe(`${name}: ${actedOn.includes(name) ? 'a job' : 'ignored'}`);
        if (job === null) {
          ignored++;
        } else {
          expect(webhookJobSchema.safeParse(job).error).toBeUndefined();
          jobs.add(name);
        }
      }
    }
    // GitHub publishes an example of every action the worker acts on but pull_request.edited.
    expect([...jobs].sort()).toEqual(actedOn.filter((n) => n !== 'pull_request.edited').sort());
    expect(ignored).toBeGreaterThan(100);
  });

  it('keeps of a commit check event its repository, commit and check name, and nothing else', () => {
    const run = webhookExamples('check_run').find((e) => e.action === 'completed')! as { check_run: { name: string; head_sha: string }; repository: { id: number } };
    expect(trimWebhookPayload(meta('check_run'), run)).toEqual({
      deliveryId: meta('x').deliveryId,
      receivedAt: '2026-01-01T00:00:00.000Z',
      event: 'check_run',
      action: 'completed',
      installationId: null,
      repository: { id: run.repository.id, fullName: 'Codertocat/Hello-World', name: 'Hello-World', ownerLogin: 'Codertocat' },
      sha: run.check_run.head_sha,
      name: run.check_run.name,
    });
    const status = webhookExamples('status').find((e) => e.installation)! as { sha: string; context: string; installation: { id: number } };
    expect(trimWebhookPayload(meta('status'), status)).toMatchObject({ event: 'status', action: null, sha: status.sha, name: status.context, installationId: status.installation.id });
    const suite = webhookExamples('check_suite').find((e) => e.action === 'completed')! as { check_suite: { head_sha: string } };
    expect(trimWebhookPayload(meta('check_suite'), suite)).toMatchObject({ event: 'check_suite', action: 'completed', sha: suite.check_suite.head_sha, name: null });
    const workflow = webhookExamples('workflow_run').find((e) => e.action === 'completed')! as { workflow_run: { head_sha: string } };
    expect(trimWebhookPayload(meta('workflow_run'), workflow)).toMatchObject({ event: 'workflow_run', sha: workflow.workflow_run.head_sha, name: null });
  });

  it('keeps of a synchronize the head before the push, and of no other pull_request action', () => {
    const sync = webhookExamples('pull_request').find((e) => e.action === 'synchronize')! as { before: string; after: string; pull_request: { head: { sha: string } } };
    expect(trimWebhookPayload(meta('pull_request'), sync)).toMatchObject({ action: 'synchronize', before: sync.before, pullRequest: { headSha: sync.pull_request.head.sha } });
    const opened = { ...webhookExamples('pull_request').find((e) => e.action === 'opened')!, before: sync.before };
    expect(trimWebhookPayload(meta('pull_request'), opened)).toMatchObject({ action: 'opened', before: null });
    // A job queued before `before` was kept is read as unknown: a push it describes vouches for nothing.
    const { before: _before, ...older } = trimWebhookPayload(meta('pull_request'), sync) as Record<string, unknown>;
    expect(webhookJobSchema.parse(older)).toMatchObject({ before: null });
  });

  it('keeps of a pull request review the whole pull request and the review: its id, commit, state (lowercased) and author', () => {
    for (const example of webhookExamples('pull_request_review').filter((e) => e.action === 'submitted' || e.action === 'dismissed')) {
      const r = example as {
        action: string;
        review: { id: number; commit_id: string; state: string; user: { id: number; login: string; type: string } };
        pull_request: { number: number; head: { sha: string } };
        sender: { login: string };
      };
      const job = trimWebhookPayload(meta('pull_request_review'), { ...r, review: { ...r.review, state: r.review.state.toUpperCase() } });
      expect(job).toMatchObject({
        event: 'pull_request_review',
        action: r.action,
        pullRequest: { number: r.pull_request.number, headSha: r.pull_request.head.sha, merged: false },
        review: { id: r.review.id, commitId: r.review.commit_id, state: r.review.state, user: { id: r.review.user.id, login: r.review.user.login, type: r.review.user.type } },
        sender: { login: r.sender.login },
      });
      // Only what the worker needs travels.
      expect(JSON.stringify(job).length).toBeLessThan(2_000);
    }
    const [submitted] = webhookExamples('pull_request_review').filter((e) => e.action === 'submitted') as Array<{ review: Record<string, unknown> }>;
    const broken = { ...submitted!, review: { ...submitted!.review, commit_id: 'HEAD' } };
    expect(() => trimWebhookPayload(meta('pull_request_review'), broken)).toThrow(/review\.commit_id/);
    const anonymous = { ...submitted!, review: { ...submitted!.review, user: null, commit_id: null } };
    expect(trimWebhookPayload(meta('pull_request_review'), anonymous)).toMatchObject({ review: { user: null, commitId: null } });
  });

  it('ignores an edited review (its text changed, not what it approves)', () => {
    const [submitted] = webhookExamples('pull_request_review').filter((e) => e.action === 'submitted');
    expect(trimWebhookPayload(meta('pull_request_review'), { ...submitted!, action: 'edited', changes: { body: { from: 'x' } } })).toBeNull();
  });

  it('ignores a commit status delivery that claims an action', () => {
    const status = { ...webhookExamples('status')[0]!, action: 'completed' };
    expect(trimWebhookPayload(meta('status'), status)).toBeNull();
  });

  it('names the offending field of a handled event that lacks what the worker needs', () => {
    const [example] = webhookExamples('pull_request').filter((e) => e.action === 'opened');
    const broken = structuredClone(example!) as { pull_request: { head: { sha: string } } };
    broken.pull_request.head.sha = 'not-a-sha';
    expect(() => trimWebhookPayload(meta('pull_request'), broken)).toThrow(PayloadError);
    expect(() => trimWebhookPayload(meta('pull_request'), broken)).toThrow(/pull_request\.head\.sha/);
  });

  it('refuses a delivery id that is not a GUID', () => {
    const [example] = webhookExamples('pull_request').filter((e) => e.action === 'opened');
    expect(() => trimWebhookPayload({ ...meta('pull_request'), deliveryId: 'abc' }, example)).toThrow(PayloadError);
  });
});

describe('what GitHub may leave out of a payload', () => {
  const opened = () => structuredClone(webhookExamples('pull_request').find((e) => e.action === 'opened')!) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

  it("reads a pull request without draft, merged, avatar, email or labels, and a fork deleted since, as GitHub's defaults", () => {
    const p = opened();
    for (const key of ['draft', 'merged', 'labels']) delete p.pull_request[key];
    delete p.pull_request.user.avatar_url;
    p.pull_request.user.email = null;
    p.pull_request.head.repo = null;
    delete p.sender.type;
    expect(trimWebhookPayload(meta('pull_request'), p)).toMatchObject({
      pullRequest: { draft: false, merged: false, labels: [], headRepoFullName: null, author: { avatarUrl: null, email: null } },
      sender: { type: 'User' },
    });
  });

  it('keeps what the payload does say: draft, labels, avatar, a fork, a bot', () => {
    const p = opened();
    p.pull_request.draft = true;
    p.pull_request.labels = [{ name: 'preview' }, { name: 'bug' }];
    p.pull_request.head.repo = { ...p.pull_request.head.repo, full_name: 'stranger/Hello-World' };
    p.sender.type = 'Bot';
    expect(trimWebhookPayload(meta('pull_request'), p)).toMatchObject({
      pullRequest: { draft: true, labels: ['preview', 'bug'], headRepoFullName: 'stranger/Hello-World', author: { avatarUrl: p.pull_request.user.avatar_url } },
      sender: { type: 'Bot' },
    });
  });

  it("reads an installation event without the installation's account as account ''", () => {
    const deleted = structuredClone(webhookExamples('installation').find((e) => e.action === 'deleted')!) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(trimWebhookPayload(meta('installation'), deleted)).toMatchObject({ accountLogin: deleted.installation.account.login });
    delete deleted.installation.account;
    expect(trimWebhookPayload(meta('installation'), deleted)).toMatchObject({ accountLogin: '' });
  });
});

describe('payloads that are not what a handled event sends', () => {
  it('ignores anything whose action is missing or not a string, and what is not an object', () => {
    const p = webhookExamples('pull_request').find((e) => e.action === 'opened')!;
    expect(trimWebhookPayload(meta('pull_request'), { ...p, action: 1 })).toBeNull();
    expect(trimWebhookPayload(meta('pull_request'), { ...p, action: undefined })).toBeNull();
    for (const payload of [null, 'opened', 42, ['opened']]) expect(trimWebhookPayload(meta('pull_request'), payload)).toBeNull();
  });

  it("names '(payload)' when the whole payload is wrong, and the field otherwise; the error says what it is", () => {
    // A commit status has no action, so a payload that is not an object reaches the schema.
    expect(() => trimWebhookPayload(meta('status'), 'a string')).toThrow(/^invalid payload: \(payload\): /);
    expect(() => trimWebhookPayload(meta('status'), {})).toThrow(/^invalid payload: repository: /);
    const err = (() => {
      try {
        trimWebhookPayload(meta('status'), {});
      } catch (e) {
        return e as Error;
      }
      return null;
    })();
    expect(err?.name).toBe('PayloadError');
  });

  it('says why a delivery id is refused', () => {
    const [example] = webhookExamples('pull_request').filter((e) => e.action === 'opened');
    expect(() => trimWebhookPayload({ ...meta('pull_request'), deliveryId: 'abc' }, example)).toThrow('invalid delivery id: must be a GUID');
  });
});
