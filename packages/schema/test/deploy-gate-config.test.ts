import { describe, expect, it } from '@jest/globals';
import { parsePreviewConfig, previewConfigJsonSchema, type ConfigProblem } from '../src/index.js';

const BASE = `version: 1
services:
  web:
    image: ghcr.io/acme/web:{{sha}}
    port: 3000
`;

function problems(text: string): ConfigProblem[] {
  const result = parsePreviewConfig(text);
  if (result.ok) throw new Error(`expected problems, got ${JSON.stringify(result.config)}`);
  return result.problems;
}

describe('deploy.wait_for', () => {
  it('reads the documented form: names, checks pinned to an App, statuses, and the timeout', () => {
    const result = parsePreviewConfig(`${BASE}deploy:
  wait_for:
    - build
    - check: "docker / push"
      app: github-actions
    - status: "ci/circleci: image"
  wait_timeout_minutes: 90
`);
    expect(result.ok && result.config.deploy).toEqual({
      wait_for: ['build', { check: 'docker / push', app: 'github-actions' }, { status: 'ci/circleci: image' }],
      wait_timeout_minutes: 90,
    });
  });

  it('waits 60 minutes unless told otherwise, and without `deploy` there is no gate', () => {
    const withGate = parsePreviewConfig(`${BASE}deploy:\n  wait_for: [build]\n`);
    expect(withGate.ok && withGate.config.deploy).toEqual({ wait_for: ['build'], wait_timeout_minutes: 60 });
    const without = parsePreviewConfig(BASE);
    expect(without.ok && without.config.deploy).toBeUndefined();
  });

  it.each([
    ['a deploy without wait_for', 'deploy: {}\n', 'deploy.wait_for', /expected array|required/i, 6],
    ['an empty wait_for', 'deploy:\n  wait_for: []\n', 'deploy.wait_for', /at least one/, 7],
    ['an unknown key', 'deploy:\n  wait_for: [build]\n  wait_for_ci: true\n', 'deploy', /unknown key: wait_for_ci/, 7],
    ['an entry with both check and status', 'deploy:\n  wait_for:\n    - { check: build, status: build }\n', 'deploy.wait_for.0', /either `check` or `status`/, 8],
    ['an entry with neither', 'deploy:\n  wait_for:\n    - { app: github-actions }\n', 'deploy.wait_for.0', /either `check` or `status`/, 8],
    ['an unknown key in an entry', 'deploy:\n  wait_for:\n    - { check: build, job: x }\n', 'deploy.wait_for.0', /unknown key: job/, 8],
    ['app with a status', 'deploy:\n  wait_for:\n    - { status: ci, app: circleci }\n', 'deploy.wait_for.0.app', /goes with `check`/, 8],
    ['an empty name', 'deploy:\n  wait_for: [""]\n', 'deploy.wait_for.0', /name/, 7],
    ['a timeout of 0', 'deploy:\n  wait_for: [build]\n  wait_timeout_minutes: 0\n', 'deploy.wait_timeout_minutes', />=\s*1|at least 1|too small/i, 8],
    ['a timeout over 720', 'deploy:\n  wait_for: [build]\n  wait_timeout_minutes: 721\n', 'deploy.wait_timeout_minutes', /720/, 8],
    ['a fractional timeout', 'deploy:\n  wait_for: [build]\n  wait_timeout_minutes: 1.5\n', 'deploy.wait_timeout_minutes', /integer|int/i, 8],
  ])('refuses %s with its path, line and reason', (_what, yaml, path, reason, line) => {
    const found = problems(`${BASE}${yaml}`);
    const problem = found.find((p) => p.path === path);
    expect(problem).toBeDefined();
    expect(problem!.message).toMatch(reason);
    expect(problem!.message).toMatch(new RegExp(`\\(line ${line}\\)$`));
  });

  it('is described in the JSON Schema served to editors', () => {
    const schema = previewConfigJsonSchema() as { properties: Record<string, { properties?: Record<string, unknown>; required?: string[] }> };
    expect(schema.properties.deploy?.properties).toHaveProperty('wait_for');
    expect(schema.properties.deploy?.properties).toHaveProperty('wait_timeout_minutes');
    expect(schema.properties.deploy?.required).toEqual(['wait_for']);
  });
});
