import { describe, expect, it } from '@jest/globals';
import { COMMIT_CHECK_EVENTS, COMMIT_CHECK_JOB_PRIORITY, WEBHOOK_JOB_OPTIONS, webhookJobOptions } from '../src/index.js';

describe(webhookJobOptions.name, () => {
  it('queues commit check deliveries behind pull request deliveries, with the same retries and retention', () => {
    for (const event of COMMIT_CHECK_EVENTS) {
      expect(webhookJobOptions({ event })).toEqual({ ...WEBHOOK_JOB_OPTIONS, priority: COMMIT_CHECK_JOB_PRIORITY });
    }
    for (const event of ['pull_request', 'pull_request_review', 'installation', 'installation_repositories'] as const) {
      expect(webhookJobOptions({ event })).toEqual(WEBHOOK_JOB_OPTIONS);
      expect(webhookJobOptions({ event })).not.toHaveProperty('priority');
    }
  });
});
