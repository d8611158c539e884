import type { NextFunction, Request, Response } from 'express';

/**
 * The pages' Content-Security-Policy: scripts, styles and connections from the service itself only, no inline script,
 * no framing, and forms posting only to the service itself and to `formTargets` (origins: /setup's form posts the App
 * manifest to GitHub).
 */
export function contentSecurityPolicy(formTargets: readonly string[] = []): string {
  const formAction = ["'self'", ...formTargets].join(' ');
  return `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action ${formAction}; base-uri 'none'; frame-ancestors 'none'`;
}

/**
 * The headers every HTML page of the service carries (the dashboard's and /setup's): the policy above, no sniffing, no
 * referrer beyond the service, nothing cached.
 *
 * @example router.use(securityHeaders())
 */
export function securityHeaders(formTargets: readonly string[] = []) {
  const headers = {
    'Content-Security-Policy': contentSecurityPolicy(formTargets),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'same-origin',
    'Cache-Control': 'no-store',
  };
  return (_req: Request, res: Response, next: NextFunction) => {
    res.set(headers);
    next();
  };
}
