import type { PlaceholderValues, PreviewConfig } from '@ephemera/schema';
import type { PreviewManifestSettings } from './kubernetes-settings.js';

/** What one preview's objects are rendered from: the pull request's commit, its configuration and the operator's settings. */
export interface PreviewManifestInput {
  namespace: string;
  environmentId: number;
  prNumber: number;
  repositoryFullName: string;
  pullRequestUrl: string;
  commitSha: string;
  /** When a redeploy last asked for the pods to restart; kept on later applies so they do not roll for its removal. */
  restartedAt?: Date | null | undefined;
  /** `<namespace>.<PREVIEW_BASE_DOMAIN>`. */
  host: string;
  config: PreviewConfig;
  placeholders: PlaceholderValues;
  settings: PreviewManifestSettings;
}
