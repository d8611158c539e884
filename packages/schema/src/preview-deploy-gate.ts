import { z } from 'zod';

/** Check run names and status contexts are free text on GitHub; bounded here. */
const checkName = z.string().min(1, 'a name').max(256, 'at most 256 characters');

/**
 * One entry of `deploy.wait_for`: a name (a check run of that name or, when none exists on the commit, a commit
 * status of that context), a check run (optionally only one made by the GitHub App `app`), or a commit status.
 */
const waitForEntrySchema = z.union([
  checkName,
  z
    .strictObject({
      check: checkName.optional().describe('A check run of this name'),
      status: checkName.optional().describe('A commit status of this context'),
      app: z
        .string()
        .regex(/^[a-z0-9][a-z0-9-]*$/, 'a GitHub App slug such as github-actions')
        .max(100)
        .optional()
        .describe('Only a check run made by this GitHub App (its slug) counts'),
    })
    .superRefine((entry, ctx) => {
      if ((entry.check === undefined) === (entry.status === undefined)) {
        ctx.addIssue({ code: 'custom', message: 'an entry names either `check` or `status`, not both and not neither' });
      } else if (entry.app !== undefined && entry.check === undefined) {
        ctx.addIssue({ code: 'custom', path: ['app'], message: '`app` goes with `check` (commit statuses are not made by an App)' });
      }
    }),
]);
export type WaitForEntry = z.infer<typeof waitForEntrySchema>;

export const DEFAULT_WAIT_TIMEOUT_MINUTES = 60;

export const deploySchema = z
  .strictObject({
    wait_for: z
      .array(waitForEntrySchema)
      .min(1, 'at least one check or status')
      .max(50, 'at most 50 entries')
      .describe('Checks (by name) or commit statuses (by context) that must pass on the commit before it is deployed'),
    wait_timeout_minutes: z
      .number()
      .int()
      .min(1)
      .max(720)
      .default(DEFAULT_WAIT_TIMEOUT_MINUTES)
      .describe('How long a deployment waits for them before it fails'),
  })
  .describe('When a commit may be deployed');
