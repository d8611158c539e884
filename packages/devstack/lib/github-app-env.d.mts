export const GITHUB_APP_ENV_FILE_NAME: string;
export function readEnvFile(file: string): Record<string, string> | null;
export interface GithubAppEnv {
  file: string;
  fromFile: string[];
  offerSetup: boolean;
}
export function applyGithubAppEnv(env: NodeJS.ProcessEnv, root: string): GithubAppEnv;
export function githubAppBanner(env: NodeJS.ProcessEnv, app: GithubAppEnv, queryUrl: string, root: string): string;
