import { describe, expect, it } from '@jest/globals';
import {
  WEBHOOK_JOB_NAMES,
  deliveryAccount,
  isCommitCheckJob,
  isHandled,
  isPullRequestEventJob,
  webhookJobName,
  type WebhookJob,
} from '../src/index.js';

describe(isHandled.name, () => {
  it.each([
    ['pull_request', 'synchronize', true],
    ['pull_request', 'assigned', false],
    ['pull_request', undefined, false],
    ['pull_request_review', 'submitted', true],
    ['pull_request_review', 'edited', false],
    ['installation', 'deleted', true],
    ['installation', 'created', false],
    ['check_run', 'completed', true],
    ['check_run', 'created', false],
    // A commit status has no action: handled only without one.
    ['status', undefined, true],
    ['status', 'completed', false],
    ['push', undefined, false],
    ['push', 'created', false],
  ])('%s.%s: %s', (event, action, handled) => {
    expect(isHandled(event, action)).toBe(handled);
  });
});

describe('WEBHOOK_JOB_NAMES', () => {
  it('names each handled action as event.action, and an event without actions by itself', () => {
    expect(WEBHOOK_JOB_NAMES).toContain('pull_request.synchronize');
    expect(WEBHOOK_JOB_NAMES).toContain('installation_repositories.removed');
    expect(WEBHOOK_JOB_NAMES).toContain('status');
    expect(WEBHOOK_JOB_NAMES.filter((n) => n.startsWith('status'))).toEqual(['status']);
    for (const name of WEBHOOK_JOB_NAMES) {
      const [event, action] = name.split('.');
      expect(isHandled(event!, action)).toBe(true);
    }
  });
});

describe(webhookJobName.name, () => {
  it('is event.action, or the event alone when there is no action', () => {
    expect(webhookJobName({ event: 'pull_request', action: 'opened' })).toBe('pull_request.opened');
    expect(webhookJobName({ event: 'check_suite', action: 'completed' })).toBe('check_suite.completed');
    expect(webhookJobName({ event: 'status', action: null })).toBe('status');
  });
});

const repository = { id: 1, fullName: 'Acme/Web', name: 'Web', ownerLogin: 'Acme' };
const job = (fields: Record<string, unknown>) => fields as unknown as WebhookJob;

describe('kinds of job', () => {
  it.each([
    ['pull_request', true, false],
    ['pull_request_review', true, false],
    ['installation', false, false],
    ['installation_repositories', false, false],
    ['check_run', false, true],
    ['check_suite', false, true],
    ['workflow_run', false, true],
    ['status', false, true],
  ])('%s: about a pull request %s, about a commit check %s', (event, pullRequest, commitCheck) => {
    expect(isPullRequestEventJob(job({ event }))).toBe(pullRequest);
    expect(isCommitCheckJob(job({ event }))).toBe(commitCheck);
  });
});

describe(deliveryAccount.name, () => {
  it("is the repository's owner for events about a repository", () => {
    expect(deliveryAccount(job({ event: 'pull_request', repository }))).toBe('Acme');
    expect(deliveryAccount(job({ event: 'status', repository }))).toBe('Acme');
  });
  it("is the installation's account for installation events", () => {
    expect(deliveryAccount(job({ event: 'installation', accountLogin: 'octo-org' }))).toBe('octo-org');
  });
});
