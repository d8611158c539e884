import { HANDLED_EVENTS, type HandledEvent } from './webhook-job.js';

/** Where ingest takes GitHub's deliveries: the App's webhook URL is the public address with this path. */
export const WEBHOOK_PATH = '/api/v1/webhooks/github';

/** An App permission's access, as GitHub's App manifests and its REST API name it. */
export type GithubAppAccess = 'read' | 'write';

/**
 * The repository permissions Ephemera's GitHub App needs, named as GitHub's App manifest (`default_permissions`) and
 * REST API name them: the one list that /setup registers the App with and that README.md's table (in "Creating the
 * GitHub App") is checked against.
 */
export const GITHUB_APP_PERMISSIONS = {
  // The PR comment with the preview's link and progress (comments on a pull request are the issues API's, which
  // this permission grants for pull requests), and the pull requests the resync lists.
  pull_requests: 'write',
  // The commit status of each deployment.
  statuses: 'write',
  // GitHub deployments and their statuses, which show the preview on the pull request.
  deployments: 'write',
  // `.ephemera.yml`, read at the pull request's base commit.
  contents: 'read',
  // Required of every App; lists the installation's repositories and a person's permission on one.
  metadata: 'read',
  // A deploy that waits for CI (`deploy.wait_for`) reads the commit's check runs and suites…
  checks: 'read',
  // …and its workflow runs.
  actions: 'read',
} as const satisfies Record<string, GithubAppAccess>;

export type GithubAppPermission = keyof typeof GITHUB_APP_PERMISSIONS;

/**
 * Events GitHub sends every App about its own installations, without a subscription (and an App cannot subscribe to
 * them): the worker handles them, but they are not among the App's events.
 */
export const APP_LIFECYCLE_EVENTS = ['installation', 'installation_repositories'] as const satisfies readonly HandledEvent[];

/**
 * The events the App subscribes to (the manifest's `default_events`): every event the worker handles but those GitHub
 * sends anyway. Derived from {@link HANDLED_EVENTS}, so a handler for a new event cannot be added without the App
 * receiving it.
 */
export const GITHUB_APP_EVENTS: readonly HandledEvent[] = (Object.keys(HANDLED_EVENTS) as HandledEvent[]).filter(
  (event) => !(APP_LIFECYCLE_EVENTS as readonly string[]).includes(event),
);
