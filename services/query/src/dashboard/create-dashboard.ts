import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import cookieParser from 'cookie-parser';
import express, { type CookieOptions, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { findDeployment, findEnvironment, listDeployments, listEnvironments, readActionTarget, readLogTail, type Queryable } from '@ephemera/db';
import type { Logger } from '@ephemera/runtime';
import { ACTIVE_ENVIRONMENT_STATUSES, ENVIRONMENT_STATUSES, type ActionRequester, type EnvironmentAction } from '@ephemera/schema';
import { DEFAULT_LOGIN_LIMIT, formCredentials, limitFailedLogins, type LoginLimit } from '../access.js';
import { ACTION_NAMES, PG_INTEGER_MAX } from '../api-schemas.js';
import { environmentCursors } from '../cursor.js';
import { actionRefusal } from '../environment-actions.js';
import { problem } from '../problem.js';
import { GithubSignInError, type GithubSignIn } from './github-sign-in.js';
import type { SafeHtml } from './html.js';
import {
  LIVE_IDS,
  deploymentPage,
  deploymentRows,
  deploymentSummary,
  environmentActions,
  environmentPage,
  environmentRows,
  environmentSummary,
  environmentsPage,
  layout,
  messagePage,
  signInPage,
  signOutPage,
  type DeploymentView,
  type EnvironmentView,
  type ListFilters,
  type PageViewer,
} from './pages.js';
import { SESSION_COOKIE, type Session, type SessionStore } from './session-store.js';

export interface DashboardDeps {
  db: Queryable;
  sessions: SessionStore;
  logger: Logger;
  /** Signs the session cookie (SESSION_SECRET). */
  sessionSecret: string;
  /** SESSION_HOURS. */
  sessionHours: number;
  /** PUBLIC_URL; an https address makes the cookies Secure. */
  publicUrl?: string | undefined;
  /** GITHUB_URL, for links to pull requests and commits. */
  githubUrl: string;
  /** "Sign in with GitHub"; off without it. */
  github?: GithubSignIn | undefined;
  /** The operator's sign-in (ADMIN_USERNAME, ADMIN_PASSWORD); off without it. */
  operator?: { username: string; password: string } | undefined;
  /** Failed operator sign-ins per client address and window, as for Bull Board's login. */
  loginLimit?: LoginLimit | undefined;
  /** How long what GitHub said a person reaches is reused before it is asked again. */
  accessTtlMs?: number | undefined;
  /** How often live views look for changes. */
  livePollMs?: number | undefined;
}

const LOGIN_CSRF_COOKIE = 'ephemera_login_csrf';
const OAUTH_STATE_COOKIE = 'ephemera_oauth_state';
const PAGE_SIZE = 50;
const DEFAULT_ACCESS_TTL_MS = 5 * 60_000;
const ACCESS_RETRY_MS = 60_000;
const DEFAULT_LIVE_POLL_MS = 1_000;
/** A comment line now and then keeps proxies from closing a quiet event stream. */
const KEEP_ALIVE_MS = 15_000;
const STATIC_DIR = fileURLToPath(new URL('../../static/', import.meta.url));

/** Scripts and styles from the service itself only, no inline script, no framing, forms posting only to itself. */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

function securityHeaders(_req: Request, res: Response, next: NextFunction) {
  res.set({
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'same-origin',
    'Cache-Control': 'no-store',
  });
  next();
}

const sameToken = (given: unknown, expected: string | undefined): boolean => {
  if (typeof given !== 'string' || !expected) return false;
  const digest = (v: string) => createHash('sha256').update(v).digest();
  return timingSafeEqual(digest(given), digest(expected));
};

/** What a signed-in person may see and do. */
export class Viewer {
  private readonly ids: Set<number>;
  private readonly names: Set<string>;
  private readonly actingIds: Set<number>;
  private readonly actingNames: Set<string>;
  constructor(readonly session: Session) {
    const repos = session.access?.repositories ?? [];
    this.ids = new Set(repos.map((r) => r.id));
    this.names = new Set(repos.map((r) => r.fullName.toLowerCase()));
    this.actingIds = new Set(repos.filter((r) => r.canAct).map((r) => r.id));
    this.actingNames = new Set(repos.filter((r) => r.canAct).map((r) => r.fullName.toLowerCase()));
  }
  get everything(): boolean {
    return this.session.kind === 'operator';
  }
  get requester(): ActionRequester {
    return { kind: this.session.kind, login: this.session.login };
  }
  get page(): PageViewer {
    return { login: this.session.login, kind: this.session.kind, csrf: this.session.csrf };
  }
  /** The repositories filter of a list, or undefined for an operator who sees everything. */
  get repositories(): { ids: number[]; fullNames: string[] } | undefined {
    return this.everything ? undefined : { ids: [...this.ids], fullNames: [...this.names] };
  }
  // Rows without GitHub's repository id are matched by full name, as the worker matches pull requests.
  canSee(e: Pick<EnvironmentView, 'repository_id' | 'repository_full_name'>): boolean {
    if (this.everything) return true;
    return e.repository_id !== null ? this.ids.has(e.repository_id) : this.names.has(e.repository_full_name.toLowerCase());
  }
  canAct(e: Pick<EnvironmentView, 'repository_id' | 'repository_full_name'>): boolean {
    if (this.everything) return true;
    return e.repository_id !== null ? this.actingIds.has(e.repository_id) : this.actingNames.has(e.repository_full_name.toLowerCase());
  }
}

const listQuery = z.object({
  repository: z
    .string()
    .trim()
    .regex(/^([^/\s]+\/[^/\s]+)?$/)
    .optional()
    .transform((v) => v || undefined),
  status: z
    .union([z.enum(ENVIRONMENT_STATUSES), z.literal('')])
    .optional()
    .transform((v) => v || undefined),
  show: z.enum(['active', 'all']).default('active'),
  cursor: z.string().min(1).max(200).optional(),
});
const idParam = z.coerce.number().int().positive().max(PG_INTEGER_MAX);

/**
 * The environments dashboard: sign-in (GitHub, and the operator's form), sessions, the pages and their live
 * updates. `router` serves it at `/`; `actionSession` lets the API's redeploy and destroy accept a signed-in session
 * (with its CSRF token) besides write tokens.
 */
export function createDashboard(deps: DashboardDeps) {
  const { db, sessions, logger } = deps;
  const links = { githubUrl: deps.githubUrl.replace(/\/$/, '') };
  const secure = deps.publicUrl?.startsWith('https:') ?? false;
  const sessionMs = deps.sessionHours * 3600_000;
  const accessTtlMs = deps.accessTtlMs ?? DEFAULT_ACCESS_TTL_MS;
  const livePollMs = deps.livePollMs ?? DEFAULT_LIVE_POLL_MS;
  const cookieOptions = (maxAge: number): CookieOptions => ({ signed: true, httpOnly: true, secure, sameSite: 'lax', path: '/', maxAge });
  const cookies = cookieParser(deps.sessionSecret);
  const form = express.urlencoded({ extended: false, limit: '8kb' });

  /** The session the request's cookie names, with GitHub's answer refreshed when it is old; null when signed out. */
  async function sessionOf(req: Request): Promise<Session | null> {
    const id = (req.signedCookies as Record<string, unknown> | undefined)?.[SESSION_COOKIE];
    if (typeof id !== 'string') return null;
    const session = await sessions.get(id);
    if (!session) return null;
    if (session.kind === 'github' && deps.github && session.githubToken && (session.access?.fetchedAt ?? 0) + accessTtlMs < Date.now()) {
      try {
        session.access = await deps.github.access(session.githubToken);
        await sessions.save(session);
      } catch (err) {
        // A token GitHub no longer accepts ends the session; GitHub being slow or away keeps the last answer.
        if (err instanceof GithubSignInError && err.status === 401) {
          await sessions.destroy(session.id);
          return null;
        }
        logger.warn({ err: { message: (err as Error).message }, login: session.login }, 'could not refresh what GitHub says a person reaches');
        // Asked again after a pause rather than on every page and every live poll, which would pile onto a GitHub
        // that is already failing.
        session.access = { repositories: session.access?.repositories ?? [], fetchedAt: Date.now() - accessTtlMs + Math.min(ACCESS_RETRY_MS, accessTtlMs) };
        await sessions.save(session);
      }
    }
    return session;
  }

  const send = (res: Response, status: number, title: string, body: SafeHtml, options: Parameters<typeof layout>[2] = {}) =>
    res.status(status).type('html').send(layout(title, body, options));

  /** Pages need a session: without one, the browser goes to the sign-in page. */
  const requireViewer = async (req: Request, res: Response, next: NextFunction) => {
    const session = await sessionOf(req);
    if (!session) return res.redirect(303, '/sign-in');
    res.locals.viewer = new Viewer(session);
    return next();
  };
  const viewerOf = (res: Response) => res.locals.viewer as Viewer;

  async function startSession(res: Response, data: Omit<Session, 'id' | 'csrf' | 'expiresAt'>) {
    // A new id at every sign-in, so an id planted before it is worth nothing after.
    const session = await sessions.create({ ...data, expiresAt: Date.now() + sessionMs });
    res.cookie(SESSION_COOKIE, session.id, cookieOptions(sessionMs));
    res.clearCookie(LOGIN_CSRF_COOKIE, { path: '/' });
    res.redirect(303, '/');
  }

  const router = express.Router();
  router.use('/static', express.static(STATIC_DIR, { index: false, maxAge: '1h' }));
  // Mounted after every other route of the service, so these reach only the dashboard's requests.
  router.use(securityHeaders, cookies);

  // Sign-in. The form carries a token matching a cookie of its own (double submit), so another site cannot sign a
  // browser in to an account of its choosing.
  const signIn = (req: Request, res: Response, status = 200, error?: string) => {
    let csrf = (req.signedCookies as Record<string, unknown>)[LOGIN_CSRF_COOKIE];
    if (typeof csrf !== 'string') {
      csrf = randomBytes(24).toString('base64url');
      res.cookie(LOGIN_CSRF_COOKIE, csrf, cookieOptions(3600_000));
    }
    return send(res, status, 'Sign in', signInPage({ csrf: csrf as string, operator: deps.operator !== undefined, github: deps.github !== undefined, error }));
  };
  router.get('/sign-in', (req, res) => signIn(req, res));

  if (deps.operator) {
    const check = formCredentials(deps.operator.username, deps.operator.password);
    const limiter = limitFailedLogins(
      check,
      deps.loginLimit ?? DEFAULT_LOGIN_LIMIT,
      (req) => (req.body as { username?: unknown } | undefined)?.username !== undefined,
      (req, res, seconds) => signIn(req, res, 429, `Too many failed sign-ins from this address: try again in ${Math.ceil(seconds / 60)} min.`),
    );
    const operatorLogin = deps.operator.username;
    router.post(
      '/auth/sign-in',
      form,
      (req, res, next) => {
        if (!sameToken((req.body as { _csrf?: unknown })._csrf, (req.signedCookies as Record<string, string>)[LOGIN_CSRF_COOKIE])) {
          return signIn(req, res, 403, 'The sign-in form had expired: please sign in again.');
        }
        return next();
      },
      limiter,
      async (req, res) => {
        if (!check(req)) return signIn(req, res, 401, 'Wrong username or password.');
        logger.info({ login: operatorLogin }, 'operator signed in to the dashboard');
        return startSession(res, { kind: 'operator', login: operatorLogin });
      },
    );
  }

  if (deps.github) {
    const github = deps.github;
    router.get('/auth/github', (_req, res) => {
      const state = randomBytes(24).toString('base64url');
      res.cookie(OAUTH_STATE_COOKIE, state, cookieOptions(10 * 60_000));
      res.redirect(302, github.authorizeUrl(state));
    });
    router.get('/auth/github/callback', async (req, res) => {
      const { code, state } = req.query;
      const expected = (req.signedCookies as Record<string, string>)[OAUTH_STATE_COOKIE];
      res.clearCookie(OAUTH_STATE_COOKIE, { path: '/' });
      if (typeof code !== 'string' || !sameToken(state, expected)) {
        return send(res, 400, 'Sign-in failed', messagePage('Sign-in failed', 'The answer from GitHub did not match this browser\'s sign-in: please sign in again.'));
      }
      try {
        const token = await github.exchange(code);
        const login = await github.login(token);
        const access = await github.access(token);
        logger.info({ login, repositories: access.repositories.length }, 'signed in to the dashboard with GitHub');
        return await startSession(res, { kind: 'github', login, githubToken: token, access });
      } catch (err) {
        logger.warn({ err: { message: (err as Error).message } }, 'GitHub sign-in failed');
        return send(res, 502, 'Sign-in failed', messagePage('Sign-in failed', 'GitHub did not complete the sign-in: please try again.'));
      }
    });
  }

  router.get('/auth/sign-out', requireViewer, (_req, res) => send(res, 200, 'Sign out', signOutPage(viewerOf(res).session.csrf), { viewer: viewerOf(res).page }));
  router.post('/auth/sign-out', form, requireViewer, async (req, res) => {
    const viewer = viewerOf(res);
    if (!sameToken((req.body as { _csrf?: unknown })._csrf, viewer.session.csrf)) return send(res, 403, 'Forbidden', messagePage('Forbidden', 'The form had expired: reload the page.'));
    await sessions.destroy(viewer.session.id);
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    return res.redirect(303, '/sign-in');
  });

  // Environments.
  async function listPage(viewer: Viewer, filters: ListFilters, cursor: string | undefined) {
    const after = cursor ? environmentCursors.decode(cursor) : undefined;
    if (after === null) return null;
    const statuses = filters.status ? [filters.status] : filters.show === 'active' ? [...ACTIVE_ENVIRONMENT_STATUSES].filter((s) => s !== 'DESTROYED') : undefined;
    const page = await listEnvironments(db, {
      ...(filters.repository ? { repositoryFullName: filters.repository } : {}),
      ...(statuses ? { statuses } : {}),
      ...(viewer.repositories ? { repositories: viewer.repositories } : {}),
      ...(after ? { after } : {}),
      limit: PAGE_SIZE,
    });
    return { environments: JSON.parse(page.body) as EnvironmentView[], next: page.next ? environmentCursors.encode(page.next.createdAt, page.next.id) : null };
  }
  const filtersOf = (q: z.infer<typeof listQuery>): ListFilters => ({ repository: q.repository, status: q.status, show: q.show });
  const queryString = (filters: ListFilters, cursor?: string) => {
    const p = new URLSearchParams();
    if (filters.repository) p.set('repository', filters.repository);
    if (filters.status) p.set('status', filters.status);
    if (filters.show !== 'active') p.set('show', filters.show);
    if (cursor) p.set('cursor', cursor);
    const s = p.toString();
    return s ? `?${s}` : '';
  };

  router.get('/', requireViewer, async (req, res) => {
    const q = listQuery.safeParse(req.query);
    if (!q.success) return send(res, 400, 'Bad request', messagePage('Bad request', 'The filters could not be read.'), { viewer: viewerOf(res).page });
    const filters = filtersOf(q.data);
    const page = await listPage(viewerOf(res), filters, q.data.cursor);
    if (!page) return send(res, 400, 'Bad request', messagePage('Bad request', 'That page link is not one this dashboard made.'), { viewer: viewerOf(res).page });
    const body = environmentsPage({ environments: page.environments, filters, nextHref: page.next ? `/${queryString(filters, page.next)}` : null, links, now: Date.now() });
    return send(res, 200, 'Environments', body, { viewer: viewerOf(res).page, live: `/events${queryString(filters, q.data.cursor)}` });
  });

  router.get('/events', requireViewer, async (req, res) => {
    const q = listQuery.safeParse(req.query);
    if (!q.success) return problem(res, 400, 'Bad Request', 'the filters could not be read');
    const filters = filtersOf(q.data);
    return liveEvents(req, res, async (viewer) => {
      const page = await listPage(viewer, filters, q.data.cursor);
      return page ? { [LIVE_IDS.rows]: environmentRows(page.environments, links, Date.now()).text } : null;
    });
  });

  /** The environment if it exists and the viewer may see it; otherwise answers 404 (the same for both). */
  async function visibleEnvironment(req: Request, res: Response, viewer: Viewer): Promise<EnvironmentView | null> {
    const id = idParam.safeParse(req.params.id);
    const row = id.success ? await findEnvironment(db, { id: id.data }) : null;
    const environment = row ? (JSON.parse(row.json) as EnvironmentView) : null;
    if (environment && viewer.canSee(environment)) return environment;
    send(res, 404, 'Not found', messagePage('Not found', 'There is no such environment, or you cannot see it.'), { viewer: viewer.page });
    return null;
  }
  const deploymentsOf = async (id: number) => (await listDeployments(db, id, { limit: PAGE_SIZE, includeLogs: false })).map((r) => JSON.parse(r.json) as DeploymentView);
  const notices: Record<string, string> = { redeploy: 'Redeploy queued: a new deployment starts shortly.', destroy: 'Destroy queued: the preview is being torn down.' };
  const isAction = (name: unknown): name is EnvironmentAction => typeof name === 'string' && (ACTION_NAMES as readonly string[]).includes(name);

  /** The actions the viewer may take on the environment that apply to it now, decided as the API decides. */
  async function actionsFor(viewer: Viewer, e: EnvironmentView): Promise<{ allowed: EnvironmentAction[]; refusals: Partial<Record<EnvironmentAction, string>> }> {
    if (!viewer.canAct(e)) return { allowed: [], refusals: {} };
    const target = await readActionTarget(db, e.id);
    const refusals: Partial<Record<EnvironmentAction, string>> = {};
    const allowed: EnvironmentAction[] = [];
    for (const action of ACTION_NAMES) {
      const refusal = target ? actionRefusal(action, e.id, target) : `no environment ${e.id}`;
      if (refusal) refusals[action] = refusal;
      else allowed.push(action);
    }
    return { allowed, refusals };
  }

  router.get('/environments/:id', requireViewer, async (req, res) => {
    const viewer = viewerOf(res);
    const environment = await visibleEnvironment(req, res, viewer);
    if (!environment) return;
    const queued = isAction(req.query.queued) ? notices[req.query.queued] : undefined;
    const actions = await actionsFor(viewer, environment);
    // Sent back by the API when the action no longer applied; said only while that is still so.
    const refused = isAction(req.query.refused) ? actions.refusals[req.query.refused] : undefined;
    const body = environmentPage({
      environment,
      deployments: await deploymentsOf(environment.id),
      actions: actions.allowed,
      csrf: viewer.session.csrf,
      notice: queued,
      alert: refused ? `Not done: ${refused}.` : undefined,
      links,
      now: Date.now(),
    });
    return send(res, 200, `${environment.repository_full_name} #${environment.pr_number}`, body, { viewer: viewer.page, live: `/environments/${environment.id}/events` });
  });

  router.get('/environments/:id/events', requireViewer, async (req, res) => {
    const environment = await visibleEnvironment(req, res, viewerOf(res));
    if (!environment) return;
    return liveEvents(req, res, async (viewer) => {
      const row = await findEnvironment(db, { id: environment.id });
      const now = Date.now();
      const e = row ? (JSON.parse(row.json) as EnvironmentView) : null;
      if (!e || !viewer.canSee(e)) return null;
      return {
        [LIVE_IDS.summary]: environmentSummary(e, links, now).text,
        [LIVE_IDS.actions]: environmentActions(e, (await actionsFor(viewer, e)).allowed, viewer.session.csrf).text,
        [LIVE_IDS.deployments]: deploymentRows(e.id, e.repository_full_name, await deploymentsOf(e.id), links, now).text,
      };
    });
  });

  async function visibleDeployment(req: Request, res: Response, viewer: Viewer) {
    const environment = await visibleEnvironment(req, res, viewer);
    if (!environment) return null;
    const id = idParam.safeParse(req.params.deploymentId);
    const row = id.success ? await findDeployment(db, environment.id, id.data) : null;
    if (row) return { environment, deployment: JSON.parse(row.json) as DeploymentView };
    send(res, 404, 'Not found', messagePage('Not found', 'This environment has no such deployment.'), { viewer: viewer.page });
    return null;
  }

  router.get('/environments/:id/deployments/:deploymentId', requireViewer, async (req, res) => {
    const found = await visibleDeployment(req, res, viewerOf(res));
    if (!found) return;
    const body = deploymentPage({ ...found, links, now: Date.now() });
    // The live view follows the logs from where the page left them.
    const from = (await readLogTail(db, found.deployment.id, 0))?.length ?? 0;
    return send(res, 200, `Deployment #${found.deployment.id}`, body, {
      viewer: viewerOf(res).page,
      live: `/environments/${found.environment.id}/deployments/${found.deployment.id}/events?from=${from}`,
    });
  });

  router.get('/environments/:id/deployments/:deploymentId/events', requireViewer, async (req, res) => {
    const found = await visibleDeployment(req, res, viewerOf(res));
    if (!found) return;
    const parsed = z.coerce.number().int().min(0).safeParse(req.query.from ?? 0);
    let from = parsed.success ? parsed.data : 0;
    const { environment, deployment } = found;
    return liveEvents(req, res, async (_viewer, write) => {
      const tail = await readLogTail(db, deployment.id, from);
      if (!tail) return null;
      if (tail.text.length > 0 || tail.restarted) write('log', { text: tail.text, restarted: tail.restarted });
      from = tail.length;
      const row = await findDeployment(db, environment.id, deployment.id);
      return row ? { [LIVE_IDS.deployment]: deploymentSummary(JSON.parse(row.json) as DeploymentView, environment.repository_full_name, links, Date.now()).text } : null;
    });
  });

  /**
   * Server-Sent Events: every poll interval `render` gives the markup of each live element as the viewer may see it
   * now, and it is sent when it differs from what was sent last. The session is read again on every poll, so a
   * sign-out (or its expiry) ends the stream.
   */
  function liveEvents(
    req: Request,
    res: Response,
    render: (viewer: Viewer, write: (event: string, data: unknown) => void) => Promise<Record<string, string> | null>,
  ) {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.flushHeaders();
    const write = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    let last = '';
    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    let lastWrite = Date.now();
    req.on('close', () => {
      closed = true;
      clearTimeout(timer);
    });
    const tick = async () => {
      try {
        const session = await sessionOf(req);
        if (!session) {
          write('signed-out', {});
          closed = true;
          return res.end();
        }
        const parts = await render(new Viewer(session), (event, data) => {
          write(event, data);
          lastWrite = Date.now();
        });
        const text = JSON.stringify(parts ?? {});
        if (parts && text !== last) {
          res.write(`data: ${text}\n\n`);
          last = text;
          lastWrite = Date.now();
        } else if (Date.now() - lastWrite > KEEP_ALIVE_MS) {
          res.write(': keep-alive\n\n');
          lastWrite = Date.now();
        }
      } catch (err) {
        logger.warn({ err: { message: (err as Error).message } }, 'live update failed');
      }
      if (!closed) timer = setTimeout(() => void tick(), livePollMs);
    };
    // The first poll sends the current state, so a change made while the page loaded is not missed.
    void tick();
  }

  /**
   * The API's actions for a signed-in session: the CSRF token (form field `_csrf` or header `X-CSRF-Token`) must be
   * the session's, and the person must be allowed to act on the environment's repository. The requester is left in
   * `res.locals.requester`, and `res.locals.fromForm` says the answer should send the browser back to the page.
   */
  const checkSession = async (req: Request, res: Response, next: NextFunction) => {
    const session = await sessionOf(req);
    if (!session) return problem(res, 401, 'Unauthorized', 'the session has ended: sign in again');
    const given = (req.body as { _csrf?: unknown } | undefined)?._csrf ?? req.get('x-csrf-token');
    if (!sameToken(given, session.csrf)) return problem(res, 403, 'Forbidden', 'the request does not carry this session\'s CSRF token');
    const viewer = new Viewer(session);
    const id = idParam.safeParse(req.params.id);
    const row = id.success ? await findEnvironment(db, { id: id.data }) : null;
    const environment = row ? (JSON.parse(row.json) as EnvironmentView) : null;
    if (!environment || !viewer.canSee(environment)) return problem(res, 404, 'Not Found', `no environment ${id.success ? id.data : req.params.id}`);
    if (!viewer.canAct(environment)) return problem(res, 403, 'Forbidden', `${session.login} may not act on ${environment.repository_full_name}: that needs the admin, maintain or write permission`);
    res.locals.requester = viewer.requester;
    res.locals.fromForm = Boolean(req.is('application/x-www-form-urlencoded'));
    return next();
  };
  const actionSession = [cookies, form, checkSession] as const;

  return {
    router,
    actionSession,
    /** Whether a request to the API stands for a session rather than a token: a session cookie and no Authorization. */
    carriesSession: (req: Request) => req.get('authorization') === undefined && (req.headers.cookie?.includes(`${SESSION_COOKIE}=`) ?? false),
  };
}
