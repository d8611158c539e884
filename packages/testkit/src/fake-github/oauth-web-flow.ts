import { createHash, randomBytes } from 'node:crypto';

/** The OAuth side of a GitHub App, as its settings page holds it. */
export interface OAuthAppSettings {
  clientId: string;
  clientSecret: string;
  /** The "Callback URL": `redirect_uri` must be it or a path under it; without `redirect_uri`, users are sent here. */
  callbackUrl: string;
  /**
   * Whether user access tokens expire and come with a refresh token to renew them, as a GitHub App's do unless it
   * opts out; `true` when omitted.
   */
  expiringTokens?: boolean;
}

/** What the authorize page does: send the browser on (302) or show an error page. */
export type AuthorizeOutcome = { status: 302; location: string } | { status: 400 | 404; text: string };

/** The token endpoint's answer: a token, or GitHub's `error` triple (always with status 200, as GitHub answers). */
export type TokenAnswer = Record<string, string | number>;

const CODE_TTL_MS = 10 * 60_000;
/** RFC 7636 §4.1: a code verifier is 43 to 128 unreserved characters. */
const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
/** An S256 code challenge: the verifier's SHA-256 in base64url without padding, always 43 characters. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const TOKEN_TTL_S = 8 * 3600;
// The refresh token's lifetime exactly as GitHub answers it, not a round number of months.
const REFRESH_TTL_S = 15_811_200;
const TROUBLESHOOTING = 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/';
const AUTHORIZE_TROUBLESHOOTING = '/apps/building-integrations/setting-up-and-registering-oauth-apps/troubleshooting-authorization-request-errors/';

/** A failed token request as GitHub answers it: the error, what it says, and its section of the troubleshooting page. */
const tokenError = (error: string, description: string, section: string): TokenAnswer => ({ error, error_description: description, error_uri: `${TROUBLESHOOTING}#${section}` });

const BAD_CREDENTIALS = tokenError('incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.', 'incorrect-client-credentials');
const BAD_CODE = tokenError('bad_verification_code', 'The code passed is incorrect or expired.', 'bad-verification-code');
const REDIRECT_MISMATCH = tokenError('redirect_uri_mismatch', 'The redirect_uri MUST match the registered callback URL for this application.', 'redirect-uri-mismatch2');
// GitHub points this one at the verification code's section too.
const BAD_REFRESH = tokenError('bad_refresh_token', 'The refresh token passed is incorrect or expired.', 'bad-verification-code');

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** A GitHub-style token: its kind's prefix and random base62 characters. */
function tokenWith(prefix: string, length: number): string {
  return prefix + [...randomBytes(length)].map((b) => ALPHABET[b % ALPHABET.length]).join('');
}

/**
 * Whether GitHub sends the browser to `redirectUri` for an App whose callback URL is `callbackUrl`: same scheme,
 * host and port, and the callback's path or a path below it (a mere string prefix such as `/callback-evil` for
 * `/callback` is refused).
 */
function redirectAccepted(redirectUri: string, callbackUrl: string): boolean {
  let given: URL;
  let registered: URL;
  try {
    given = new URL(redirectUri);
    registered = new URL(callbackUrl);
  } catch {
    return false;
  }
  if (given.protocol !== registered.protocol || given.host !== registered.host) return false;
  const base = registered.pathname.replace(/\/+$/, '');
  return given.pathname === registered.pathname || given.pathname === base || given.pathname.startsWith(`${base}/`);
}

/**
 * GitHub's web application flow for one GitHub App: the authorize page hands the signed-in person a one-time code
 * for the callback, the token endpoint trades it for a `ghu_` user access token (and, for expiring tokens, a `ghr_`
 * refresh token), and the API knows whose each token is. Time is the fake GitHub's clock.
 */
export class OAuthWebFlow {
  private app: Required<OAuthAppSettings> | null = null;
  private signedIn: string | null = null;
  private readonly codes = new Map<string, { clientId: string; login: string; redirectUri: string; expiresAt: number; used: boolean; codeChallenge: string | null }>();
  private readonly tokens = new Map<string, { login: string; expiresAt: number | null }>();
  private readonly refreshTokens = new Map<string, { clientId: string; login: string; expiresAt: number; accessToken: string }>();

  constructor(private readonly now: () => number) {}

  setApp(app: OAuthAppSettings): void {
    this.app = { expiringTokens: true, ...app };
  }

  /** Who is signed in to GitHub in the browser that opens the authorize page; `null`: nobody. */
  setSignedIn(login: string | null): void {
    this.signedIn = login;
  }

  /** Who is signed in to GitHub in the browser, for its other pages (registering an App). */
  get signedInLogin(): string | null {
    return this.signedIn;
  }

  /**
   * `GET /login/oauth/authorize`. GitHub shows a consent page first; the fake consents at once for the signed-in
   * person. A redirect_uri the App did not register sends the browser to the registered callback with
   * `error=redirect_uri_mismatch` instead, as GitHub documents, so the code never reaches the unregistered URL.
   * PKCE (RFC 7636), which GitHub supports without requiring it: a `code_challenge` is kept with the code, and only
   * the S256 method is accepted (GitHub's changelog of 2025-07-14: "Only the S256 code challenge method is accepted").
   */
  authorize(query: URLSearchParams): AuthorizeOutcome {
    const app = this.app;
    const clientId = query.get('client_id');
    if (!app || !clientId || clientId !== app.clientId) {
      return { status: 404, text: `Not Found: no GitHub App has the client_id ${JSON.stringify(clientId ?? '')}.` };
    }
    const state = query.get('state');
    const requested = query.get('redirect_uri');
    const codeChallenge = query.get('code_challenge');
    const method = query.get('code_challenge_method');
    if (codeChallenge !== null || method !== null) {
      if (method !== 'S256') return { status: 400, text: `code_challenge_method must be S256 (given: ${JSON.stringify(method ?? '')}): only the S256 code challenge method is accepted.` };
      if (codeChallenge === null || !S256_CHALLENGE.test(codeChallenge)) return { status: 400, text: 'code_challenge must be the base64url SHA-256 of the code verifier (43 characters).' };
    }
    if (requested !== null && !redirectAccepted(requested, app.callbackUrl)) {
      const back = new URL(app.callbackUrl);
      back.searchParams.set('error', 'redirect_uri_mismatch');
      back.searchParams.set('error_description', 'The redirect_uri MUST match the registered callback URL for this application.');
      back.searchParams.set('error_uri', `${AUTHORIZE_TROUBLESHOOTING}#redirect-uri-mismatch`);
      if (state !== null) back.searchParams.set('state', state);
      return { status: 302, location: back.toString() };
    }
    if (!this.signedIn) {
      return { status: 400, text: 'Nobody is signed in to the fake GitHub: call setOAuthUser(login) before opening the authorize page.' };
    }
    const redirectUri = requested ?? app.callbackUrl;
    // Hex, as GitHub's codes are, so a client that checks their form accepts these.
    const code = randomBytes(10).toString('hex');
    this.codes.set(code, { clientId, login: this.signedIn, redirectUri, expiresAt: this.now() + CODE_TTL_MS, used: false, codeChallenge });
    const next = new URL(redirectUri);
    next.searchParams.set('code', code);
    if (state !== null) next.searchParams.set('state', state);
    return { status: 302, location: next.toString() };
  }

  /** `POST /login/oauth/access_token`: a code (or, with `grant_type=refresh_token`, a refresh token) for a user token. */
  exchange(params: Record<string, string | undefined>): TokenAnswer {
    const app = this.app;
    if (!app || params.client_id !== app.clientId || params.client_secret !== app.clientSecret) return BAD_CREDENTIALS;
    if (params.grant_type === 'refresh_token') {
      const held = this.refreshTokens.get(params.refresh_token ?? '');
      if (!held || held.clientId !== app.clientId || held.expiresAt <= this.now()) return BAD_REFRESH;
      // A refresh token works once, and retires the access token it came with.
      this.refreshTokens.delete(params.refresh_token!);
      this.tokens.delete(held.accessToken);
      return this.issue(held.login, app);
    }
    const grant = this.codes.get(params.code ?? '');
    if (!grant || grant.used || grant.clientId !== app.clientId || grant.expiresAt <= this.now()) return BAD_CODE;
    if (params.redirect_uri !== undefined && params.redirect_uri !== grant.redirectUri) return REDIRECT_MISMATCH;
    // A code issued for a challenge is traded only with the verifier it was made from. GitHub's documented errors
    // have no PKCE one of their own: the code "doesn't match what you received in the first request", which its
    // documentation answers with bad_verification_code. The code stays usable, as after wrong client credentials.
    if (grant.codeChallenge !== null) {
      const verifier = params.code_verifier ?? '';
      if (!CODE_VERIFIER.test(verifier) || createHash('sha256').update(verifier).digest('base64url') !== grant.codeChallenge) return BAD_CODE;
    }
    grant.used = true;
    return this.issue(grant.login, app);
  }

  /**
   * `DELETE /applications/{client_id}/token` with the App's credentials: the user access token stops working at
   * once, and its refresh token with it. Says why not when the credentials are not this App's, or the token is not
   * one of its live tokens.
   */
  revoke(clientId: string, clientSecret: string, token: string): 'revoked' | 'bad-credentials' | 'unknown-token' {
    const app = this.app;
    if (!app || clientId !== app.clientId || clientSecret !== app.clientSecret) return 'bad-credentials';
    if (this.loginOf(token) === null) return 'unknown-token';
    this.tokens.delete(token);
    // Its refresh token goes with it.
    for (const [refresh, held] of this.refreshTokens) if (held.accessToken === token) this.refreshTokens.delete(refresh);
    return 'revoked';
  }

  /** The login a user access token acts for, while it is valid. */
  loginOf(token: string): string | null {
    const held = this.tokens.get(token);
    if (!held || (held.expiresAt !== null && held.expiresAt <= this.now())) return null;
    return held.login;
  }

  private issue(login: string, app: Required<OAuthAppSettings>): TokenAnswer {
    // The prefixes and lengths of GitHub's own user and refresh tokens, which clients and secret scanners recognise.
    const accessToken = tokenWith('ghu_', 36);
    if (!app.expiringTokens) {
      this.tokens.set(accessToken, { login, expiresAt: null });
      return { access_token: accessToken, token_type: 'bearer', scope: '' };
    }
    const refreshToken = tokenWith('ghr_', 76);
    this.tokens.set(accessToken, { login, expiresAt: this.now() + TOKEN_TTL_S * 1000 });
    this.refreshTokens.set(refreshToken, { clientId: app.clientId, login, expiresAt: this.now() + REFRESH_TTL_S * 1000, accessToken });
    return {
      access_token: accessToken,
      expires_in: TOKEN_TTL_S,
      refresh_token: refreshToken,
      refresh_token_expires_in: REFRESH_TTL_S,
      token_type: 'bearer',
      scope: '',
    };
  }
}
