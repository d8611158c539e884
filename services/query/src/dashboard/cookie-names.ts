/** The cookie that names a dashboard session (with the `__Host-` prefix under https: see {@link cookieNames}). */
export const SESSION_COOKIE = 'ephemera_session';

/**
 * The dashboard's cookies by purpose. Under an https PUBLIC_URL each name has the `__Host-` prefix, with which a
 * browser keeps the cookie only when it is Secure, has Path=/ and no Domain: a sibling host or a page over plain http
 * cannot set or overwrite it (RFC 6265bis, cookie prefixes).
 */
export function cookieNames(secure: boolean) {
  const prefix = secure ? '__Host-' : '';
  return {
    session: `${prefix}${SESSION_COOKIE}`,
    /** The sign-in form's double-submit token. */
    loginCsrf: `${prefix}ephemera_login_csrf`,
    /** A GitHub sign-in in progress: its `state` and PKCE code verifier. */
    oauthState: `${prefix}ephemera_oauth_state`,
    /**
     * A GitHub App registration in progress (/setup): its `state`. Scoped to Path=/setup, which `__Host-` forbids, so
     * under https it has the `__Secure-` prefix (a browser keeps it only when it is Secure).
     */
    setupState: `${secure ? '__Secure-' : ''}ephemera_setup_state`,
  };
}
