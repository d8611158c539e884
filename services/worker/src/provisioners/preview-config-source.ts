import {
  MAX_PREVIEW_CONFIG_BYTES,
  PREVIEW_CONFIG_FILES,
  describeConfigProblems,
  parsePreviewConfig,
  type ConfigLimits,
  type PreviewConfig,
} from '@ephemera/schema';
import { isRetryableGithubError } from '../github/github-feedback.js';
import type { InstallationClients } from '../github/installation-clients.js';
import { ProvisionError } from './provisioner.js';

export interface ConfigRef {
  /** 0 for a repository webhook, which has no installation to read with. */
  installationId: number;
  repositoryFullName: string;
  /** The commit to read from: the head commit, or the base commit for a pull request from a fork. */
  sha: string;
  fromFork: boolean;
}

export interface LoadedConfig {
  file: string;
  config: PreviewConfig;
}

/** Where a repository's `.ephemera.yml` comes from. Failures are ProvisionErrors: transient ones are retried. */
export interface PreviewConfigSource {
  load(ref: ConfigRef): Promise<LoadedConfig>;
}

/** What the comment and the API show when a repository has no configuration: what to add, and where. */
function missingConfigMessage(ref: ConfigRef): string {
  const at = ref.fromFork
    ? `the base commit ${ref.sha.slice(0, 7)} (pull requests from forks use the base branch's configuration)`
    : `commit ${ref.sha.slice(0, 7)}`;
  return [
    `No ${PREVIEW_CONFIG_FILES[0]} in ${ref.repositoryFullName} at ${at}.`,
    `Add ${PREVIEW_CONFIG_FILES[0]} at the repository root to say how the preview is deployed, for example:`,
    '',
    'version: 1',
    'services:',
    '  web:',
    '    image: ghcr.io/OWNER/IMAGE:{{sha}}',
    '    port: 3000',
  ].join('\n');
}

/** Reads `.ephemera.yml` (or `.ephemera.yaml`) through GitHub's contents API with the installation's token. */
export class GithubConfigSource implements PreviewConfigSource {
  constructor(
    private readonly clients: InstallationClients,
    private readonly limits: ConfigLimits,
  ) {}

  async load(ref: ConfigRef): Promise<LoadedConfig> {
    if (ref.installationId === 0) {
      throw new ProvisionError(
        `${PREVIEW_CONFIG_FILES[0]} cannot be read: ${ref.repositoryFullName} sends webhooks directly rather than through the Ephemera GitHub App`,
        false,
      );
    }
    const [owner, repo] = ref.repositoryFullName.split('/') as [string, string];
    const octokit = this.clients.for(ref.installationId);
    for (const file of PREVIEW_CONFIG_FILES) {
      let data: unknown;
      try {
        ({ data } = await octokit.rest.repos.getContent({ owner, repo, path: file, ref: ref.sha }));
      } catch (err) {
        const status = (err as { status?: number }).status;
        if (status === 404) continue;
        const reason = `reading ${file} from ${ref.repositoryFullName} at ${ref.sha.slice(0, 7)} failed: GitHub answered ${status ?? (err as Error).message}`;
        throw new ProvisionError(reason, isRetryableGithubError(err));
      }
      const text = fileText(data, file);
      const parsed = parsePreviewConfig(text, this.limits);
      if (!parsed.ok) throw new ProvisionError(describeConfigProblems(`${file} at ${ref.sha.slice(0, 7)}`, parsed.problems), false);
      return { file, config: parsed.config };
    }
    throw new ProvisionError(missingConfigMessage(ref), false);
  }
}

/** The file's text from a contents API answer; a directory or a symlink by that name is not a configuration. */
function fileText(data: unknown, file: string): string {
  const entry = data as { type?: string; encoding?: string; content?: string; size?: number };
  if (Array.isArray(data) || entry.type !== 'file') throw new ProvisionError(`${file} is not a file`, false);
  if ((entry.size ?? 0) > MAX_PREVIEW_CONFIG_BYTES || entry.encoding !== 'base64' || typeof entry.content !== 'string') {
    throw new ProvisionError(`${file} is larger than ${MAX_PREVIEW_CONFIG_BYTES / 1024} KiB`, false);
  }
  return Buffer.from(entry.content, 'base64').toString('utf8');
}
