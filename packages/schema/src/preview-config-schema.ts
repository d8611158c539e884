import { z } from 'zod';
import { MAX_ADDONS, addonName, previewAddonSchema } from './preview-addons.js';
import { checkPreviewConfig } from './preview-config-rules.js';
import { MAX_TIMEOUT_SECONDS, previewServiceSchema, serviceName } from './preview-container.js';
import { deploySchema } from './preview-deploy-gate.js';
import { MAX_JOBS, jobName, previewJobSchema } from './preview-jobs.js';
import { routeSchema } from './preview-routes.js';

/** The whole of `.ephemera.yml`: each section's schema, then the rules that span sections. */
export const previewConfigSchema = z
  .strictObject({
    version: z.literal(1),
    services: z
      .record(serviceName, previewServiceSchema)
      .refine((s) => Object.keys(s).length > 0, 'at least one service')
      .refine((s) => Object.keys(s).length <= 20, 'at most 20 services'),
    expose: serviceName.optional().describe('The service behind the preview URL; default: the only service. Not with `routes`'),
    routes: z
      .array(routeSchema)
      .min(1, 'at least one route')
      .max(50, 'at most 50 routes')
      .optional()
      .describe('Instead of `expose`: paths of the preview host and the services behind them, longest prefix first'),
    timeout_seconds: z.number().int().min(30).max(MAX_TIMEOUT_SECONDS).default(600).describe('How long a rollout may take'),
    deploy: deploySchema.optional(),
    addons: z
      .record(addonName, previewAddonSchema)
      .refine((a) => Object.keys(a).length <= MAX_ADDONS, `at most ${MAX_ADDONS} add-ons`)
      .optional()
      .describe("Databases and caches of the preview's own, kept across pushes; every service and job gets each one's URL in `url_env`"),
    jobs: z
      .record(jobName, previewJobSchema)
      .refine((j) => Object.keys(j).length <= MAX_JOBS, `at most ${MAX_JOBS} jobs`)
      .optional()
      .describe('Jobs run before each deploy (migrations) or once per environment (seed data), in file order'),
  })
  .superRefine((config, ctx) => checkPreviewConfig(config, (path, message) => ctx.addIssue({ code: 'custom', path, message })));

export type PreviewConfig = z.infer<typeof previewConfigSchema>;
