import { z } from 'zod';
import { serviceName } from './preview-container.js';

export const routeSchema = z
  .strictObject({
    path: z
      .string()
      .max(1024)
      .regex(/^\/([A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*)?$/, 'an absolute path such as /api: letters, digits, ".", "_", "~", "-" and "/", no trailing or doubled "/"')
      .describe('A path prefix of the preview host; the longest matching prefix wins'),
    service: serviceName.describe('A service with a `port`'),
  })
  .describe('Requests under `path` go to `service`');

export type PreviewRoute = z.infer<typeof routeSchema>;

/** The routes by precedence: longest path first (as the Ingress matches them); equal lengths keep file order. */
export function routesByPrefix(routes: readonly PreviewRoute[]): PreviewRoute[] {
  return routes
    .map((route, i) => ({ route, i }))
    .sort((a, b) => b.route.path.length - a.route.path.length || a.i - b.i)
    .map(({ route }) => route);
}
