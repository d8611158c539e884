import type http from 'node:http';
import { exchangeOf, type Route } from './exchange.js';
import type { FakeGithubState } from './fake-github-state.js';
import { refused } from './refusals.js';
import { appManifestRoutes } from './routes/app-manifest-routes.js';
import { collaboratorRoutes } from './routes/collaborator-routes.js';
import { contentRoutes } from './routes/content-routes.js';
import { hookDeliveryRoutes } from './routes/hook-delivery-routes.js';
import { installationRoutes } from './routes/installation-routes.js';
import { issueCommentRoutes } from './routes/issue-comment-routes.js';
import { pullRoutes } from './routes/pull-routes.js';
import { signInRoutes } from './routes/sign-in-routes.js';
import { statusAndDeploymentRoutes } from './routes/status-and-deployment-routes.js';
import { userRoutes } from './routes/user-routes.js';

/** Every area of the API; none answers another's paths, so their order does not matter. */
const ROUTES: Route[] = [
  signInRoutes,
  appManifestRoutes,
  userRoutes,
  hookDeliveryRoutes,
  installationRoutes,
  pullRoutes,
  collaboratorRoutes,
  issueCommentRoutes,
  contentRoutes,
  statusAndDeploymentRoutes,
];

/** The fake GitHub's request handler: reads the body, then answers as the first area that serves the request. */
export function router(state: FakeGithubState): http.RequestListener {
  return (req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const ex = exchangeOf(state, req, res, raw);
      if (refused(state, ex) || ROUTES.some((route) => route(state, ex))) return;
      const answer = state.checks.answer(ex.method, ex.path, ex.url());
      if (answer) ex.send(answer.status, answer.body, answer.headers);
      else ex.send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
    });
  };
}
