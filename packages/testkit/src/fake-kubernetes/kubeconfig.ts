/** A kubeconfig for the fake API server: plain HTTP, insecure-skip-tls-verify, a token user, context 'fake'. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify as stringifyYaml } from 'yaml';

export function kubeconfigFor(url: string, token: string): string {
  return stringifyYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'fake', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'fake', user: { token } }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
    'current-context': 'fake',
    preferences: {},
  });
}

/** Writes the kubeconfig into `dir` (readable by its owner only) and returns the file path. */
export function writeKubeconfig(dir: string, kubeconfig: string): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'kubeconfig');
  writeFileSync(file, kubeconfig, { mode: 0o600 });
  return file;
}
